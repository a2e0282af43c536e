// Request plumbing for the console: cookies, bodies bounded while they arrive, forms (urlencoded and
// multipart, the latter parsed by Node's own fetch Response.formData after the bounded read).
import type { IncomingMessage } from 'node:http';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The request's cookies. A value that is not valid percent-encoding (`a=%`) is skipped: decodeURIComponent
 * throws on it, and the error page reads the cookies again, so a throw here ended the process. */
export function cookies(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    try {
      out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      // not a cookie we set (ours are encodeURIComponent'd): as if it were not sent
    }
  }
  return out;
}

/** The body, refused with 413 as soon as more than `limit` bytes are announced or have arrived. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const announced = Number(req.headers['content-length'] ?? 0);
  if (announced > limit) return Promise.reject(new HttpError(413, `body over ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpError(413, `body over ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export interface Form {
  get(name: string): string | undefined;
  file(name: string): Promise<Buffer | undefined>;
}

export async function readForm(req: IncomingMessage, limit: number): Promise<Form> {
  const type = req.headers['content-type'] ?? '';
  const body = await readBody(req, limit);
  if (type.startsWith('multipart/form-data')) {
    let data: FormData;
    try {
      data = await new Response(new Blob([new Uint8Array(body)]), { headers: { 'content-type': type } }).formData();
    } catch {
      throw new HttpError(400, 'malformed form');
    }
    return {
      get: (name) => {
        const v = data.get(name);
        return typeof v === 'string' ? v : undefined;
      },
      file: async (name) => {
        const v = data.get(name);
        return v && typeof v !== 'string' && v.size > 0 ? Buffer.from(await v.arrayBuffer()) : undefined;
      },
    };
  }
  const params = new URLSearchParams(body.toString('utf8'));
  return { get: (name) => params.get(name) ?? undefined, file: async () => undefined };
}
