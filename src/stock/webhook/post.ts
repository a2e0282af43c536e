// One POST to the cart, bounded every way the cart could hold us: a deadline for the whole exchange
// (connect, send, answer), redirects never followed, and at most ANSWER_MAX_BYTES of its answer read.
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import { http, https } from '../../net/node-http.js';
import { preview } from '../../security/untrusted-text.js';

const ANSWER_MAX_BYTES = 64 * 1024;
const ERROR_TEXT_CHARS = 200; // of the cart's answer, kept as lastError

export interface PostResult {
  /** The HTTP status; undefined when no answer came (refused, reset, timeout). */
  status?: number;
  /** For a status other than 2xx, or no answer: why, in one safe line. */
  error?: string;
}

/** Keep-alive agents, one per pusher: a batch after a batch reuses the connection (and its TLS session). */
export function agents(): { http: Http.Agent; https: Https.Agent; destroy(): void } {
  const a = { http: new http.Agent({ keepAlive: true, maxSockets: 1 }), https: new https.Agent({ keepAlive: true, maxSockets: 1 }) };
  return { ...a, destroy: () => (a.http.destroy(), a.https.destroy()) };
}

export async function postJson(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  via: ReturnType<typeof agents>,
  signal?: AbortSignal,
): Promise<PostResult> {
  const r = await postOnce(url, headers, body, timeoutMs, via, signal);
  // A kept-alive connection the cart closed while idle (its keep-alive timeout) fails the next request
  // with ECONNRESET before any answer: the same request once more, on a new connection (Node's own recipe).
  return r.staleConnection ? postOnce(url, headers, body, timeoutMs, via, signal) : r;
}

function postOnce(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  via: ReturnType<typeof agents>,
  signal?: AbortSignal,
): Promise<PostResult & { staleConnection?: boolean }> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const secure = u.protocol === 'https:';
    const payload = Buffer.from(body, 'utf8');
    let settled = false;
    let answered = false;
    const done = (r: PostResult & { staleConnection?: boolean }) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
      resolve(r);
    };
    const req = (secure ? https : http).request(u, {
      method: 'POST',
      agent: secure ? via.https : via.http,
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(payload.length) },
    });
    const deadline = setTimeout(() => {
      req.destroy();
      done({ error: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    const onAbort = () => {
      req.destroy();
      done({ error: 'stopped' });
    };
    signal?.addEventListener('abort', onAbort);
    req.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      const staleConnection = code === 'ECONNRESET' && req.reusedSocket && !answered;
      done({ error: `${code}: ${preview(err.message, ERROR_TEXT_CHARS)}`, staleConnection });
    });
    req.on('response', (res) => {
      answered = true;
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      let read = 0;
      let text = '';
      const finish = () => {
        if (ok) return done({ status });
        const where =
          status >= 300 && status < 400 && res.headers.location ? ` (redirect to ${preview(res.headers.location, 100)} not followed)` : '';
        done({ status, error: `HTTP ${status}${where}${text ? `: ${preview(text, ERROR_TEXT_CHARS)}` : ''}` });
      };
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (text.length < ERROR_TEXT_CHARS) text += chunk.toString('utf8', 0, Math.min(chunk.length, ERROR_TEXT_CHARS));
        if (read > ANSWER_MAX_BYTES) {
          // The status is all we need: the rest of a long answer is not read, and the connection goes.
          res.destroy();
          finish();
        }
      });
      res.on('end', finish);
      res.on('error', finish);
      res.on('close', finish);
    });
    req.end(payload);
  });
}
