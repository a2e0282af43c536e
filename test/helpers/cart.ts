// A cart's webhook endpoint for tests: a real HTTP server on loopback that keeps every request it got
// (headers and body as sent) and answers each as the test says: a status, a held request, an endless body.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CartRequest {
  headers: IncomingMessage['headers'];
  body: string;
  /** The change ids in the body, in the order sent. */
  ids: number[];
  /** What the cart answered (0 while held or cut). */
  status: number;
}

/** The answer to request number `n` (0-based); 'hold' keeps the request open until the server closes. */
export type CartAnswer = number | 'hold' | ((res: ServerResponse, req: CartRequest) => void);

export async function fakeCart(answer: (n: number, req: CartRequest) => CartAnswer) {
  const requests: CartRequest[] = [];
  const open = new Set<ServerResponse>();
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer((req, res) => {
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    res.on('close', () => inFlight--);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let ids: number[] = [];
      try {
        ids = (JSON.parse(body) as { changes: { id: number }[] }).changes.map((c) => c.id);
      } catch {
        /* not ours: kept as is */
      }
      const r: CartRequest = { headers: req.headers, body, ids, status: 0 };
      requests.push(r);
      const a = answer(requests.length - 1, r);
      if (a === 'hold') {
        open.add(res);
        res.on('close', () => open.delete(res));
        return;
      }
      if (typeof a === 'function') return a(res, r);
      r.status = a;
      res.writeHead(a, { 'content-type': 'text/plain' }).end(a < 300 ? 'ok' : 'not now');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/zaikorobot-webhook.php`,
    port,
    requests,
    /** The most requests open at once (one batch in flight per shop: 1). */
    maxInFlight: () => maxInFlight,
    /** Change ids the cart took (answered 2xx), in the order it took them. */
    taken: () => requests.filter((r) => r.status >= 200 && r.status < 300).flatMap((r) => r.ids),
    close: () =>
      new Promise<void>((r) => {
        for (const res of open) res.destroy();
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

const CHUNK = Buffer.alloc(64 * 1024, 'x');
const ENDLESS_CAP_BYTES = 1024 ** 3; // a bound for the test itself: the client must stop reading long before

/** An answer whose body never ends (until the client goes, or 1 GiB a response): how much went, and whether the client cut it. */
export function endlessAnswer(status: number) {
  let mostWritten = 0;
  let cut = 0;
  return {
    answer: (res: ServerResponse, req: CartRequest) => {
      req.status = status;
      let written = 0;
      let closed = false;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.on('close', () => {
        closed = true;
        if (!res.writableFinished) cut++;
      });
      const more = () => {
        while (!closed && written < ENDLESS_CAP_BYTES) {
          written += CHUNK.length;
          mostWritten = Math.max(mostWritten, written);
          if (!res.write(CHUNK)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    },
    written: () => mostWritten,
    closed: () => cut > 0,
  };
}
