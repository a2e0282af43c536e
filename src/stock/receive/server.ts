// The receiver's HTTP server (node:http: the body must stay bytes until the charset is known, and the
// size limit must hold while reading). Routes: POST receiver.path, /healthz, /readyz, /metrics.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Config } from '../../config/schema.js';
import type { Logger } from '../../observe/logger.js';
import { encode } from './charset.js';
import type { UploadHandler, Answer } from './upload-handler.js';
import { ngAnswer } from '../../errors/codes.js';

export type ExtraRoute = (req: IncomingMessage, res: ServerResponse) => Promise<boolean> | boolean;

class TooLarge extends Error {}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBytes) return reject(new TooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        req.removeAllListeners('data');
        req.resume();
        reject(new TooLarge());
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, answer: Answer): void {
  const body = encode(answer.lines.join('\n') + '\n', answer.charset);
  const charset = answer.charset === 'utf-8' ? 'UTF-8' : answer.charset === 'shift_jis' ? 'Shift_JIS' : 'EUC-JP';
  res.writeHead(answer.status, { 'content-type': `text/plain; charset=${charset}`, 'content-length': body.length });
  res.end(body);
}

export function createReceiverServer(cfg: Config, handler: UploadHandler, log: Logger, extra: ExtraRoute[] = []): Server {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    try {
      for (const route of extra) if (await route(req, res)) return;
      if (url.pathname !== cfg.receiver.path) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      if (req.method !== 'POST') {
        res.writeHead(405, { 'content-type': 'text/plain', allow: 'POST' }).end('method not allowed\n');
        return;
      }
      const client = req.socket.remoteAddress ?? 'unknown';
      let body: Buffer;
      try {
        body = await readBody(req, cfg.receiver.maxBytes);
      } catch (err) {
        if (err instanceof TooLarge) {
          log.warn({ client, maxBytes: cfg.receiver.maxBytes }, 'upload refused: too large');
          res.setHeader('connection', 'close');
          return send(res, { ...ngAnswer('STOCK_TOO_LARGE'), charset: 'utf-8' });
        }
        throw err;
      }
      send(res, await handler.handle(body, req.headers['content-type'], client));
    } catch (err) {
      log.error({ err: (err as Error).message, path: url.pathname }, 'receiver error');
      if (!res.headersSent) send(res, { ...ngAnswer('STOCK_UNAVAILABLE'), charset: 'utf-8' });
      else res.destroy();
    }
  });
  server.requestTimeout = 5 * 60_000;
  return server;
}
