// The receiver's HTTP server (node:http: the body must stay bytes until the charset is known, and the
// size limits must hold while reading). Routes: POST receiver.path, /healthz, /readyz, /metrics.
// Bounded against slow or many clients: receiver.maxConnections (receiver.maxConnectionsPerAddress of them per
// address, so one address cannot take them all; a share kept for shops[].zaikoRobot.clients, so many
// addresses together cannot either), receiver.maxInflightBytes (the same), and node's
// own timeouts for the headers and the whole request, checked every second (node's default is 30 s).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { http } from '../../net/node-http.js';
import type { Config } from '../../config/schema.js';
import { ConfigHolder } from '../../config/holder.js';
import type { Logger } from '../../observe/logger.js';
import { encode } from './charset.js';
import type { Uploads, Answer } from './upload-handler.js';
import { ngAnswer } from '../../errors/codes.js';
import { readBody, InflightBudget, TooLarge, Busy, type Body } from './request-body.js';
import { clientAddress } from './client-address.js';
import { allowList } from '../../net/address-list.js';
import { requestTarget } from '../../security/request-target.js';
import { preview } from '../../security/untrusted-text.js';
import { zaikoRobotReserve, reserveConnections, reservedBytes } from './zaiko-robot-reserve.js';

/** A slow client cannot stretch these: headers within 10 s, the whole request within 60 s of its start. */
export interface HttpTimeouts {
  headersMs: number;
  requestMs: number;
  checkEveryMs: number;
}
const HTTP_TIMEOUTS: HttpTimeouts = { headersMs: 10_000, requestMs: 60_000, checkEveryMs: 1_000 };
/** Retry-After of a 503 busy: admitted uploads finish (or time out) well within this. */
const BUSY_RETRY_AFTER_S = 30;
/** How long a refused request's remaining bytes are read and discarded before its socket closes (Apache waits 2 s). */
const LINGER_MS = 2_000;

export type ExtraRoute = (req: IncomingMessage, res: ServerResponse) => Promise<boolean> | boolean;

function send(res: ServerResponse, answer: Answer): void {
  const body = encode(answer.lines.join('\n') + '\n', answer.charset);
  const charset = answer.charset === 'utf-8' ? 'UTF-8' : answer.charset === 'shift_jis' ? 'Shift_JIS' : 'EUC-JP';
  res.writeHead(answer.status, { 'content-type': `text/plain; charset=${charset}`, 'content-length': body.length });
  res.end(body);
}

export function createReceiverServer(
  config: Config | ConfigHolder,
  handler: Uploads,
  log: Logger,
  extra: ExtraRoute[] = [],
  timeouts = HTTP_TIMEOUTS,
): Server {
  const holder = ConfigHolder.of(config);
  const cfg = holder.get(); // proxies, connection limits, the in-flight budget: RESTART_KEYS
  const clientOf = clientAddress(cfg.receiver.trustedProxies);
  // One address (adminClients exempt) holds at most a quarter of the budget, or one largest upload:
  // a few unfinished uploads from one outsider cannot make every other upload 'busy' for a minute.
  const { maxInflightBytes, maxBytes } = cfg.receiver;
  const reserve = zaikoRobotReserve(holder);
  const budget = new InflightBudget(
    maxInflightBytes,
    Math.max(maxBytes, Math.floor(maxInflightBytes / 4)),
    allowList(cfg.receiver.adminClients),
    {
      isZaikoRobot: (client) => reserve.isZaikoRobot(client),
      bytes: () => (reserve.active() ? reservedBytes(maxInflightBytes, maxBytes) : 0),
    },
  );
  const refuse = (req: IncomingMessage, res: ServerResponse, code: 'STOCK_TOO_LARGE' | 'STOCK_BUSY') => {
    if (code === 'STOCK_BUSY') res.setHeader('retry-after', String(BUSY_RETRY_AFTER_S));
    handler.countRefused(code === 'STOCK_BUSY' ? 'busy' : 'too_large');
    lingerClose(req, res);
    send(res, { ...ngAnswer(code), charset: 'utf-8' });
  };
  const httpOptions = {
    headersTimeout: timeouts.headersMs,
    requestTimeout: timeouts.requestMs,
    connectionsCheckingInterval: timeouts.checkEveryMs,
  };
  const server = http.createServer(httpOptions, async (req, res) => {
    const url = requestTarget(req.url, 'http://x');
    const now = holder.get(); // path and size limit of the config current at the request's start
    try {
      if (!url) {
        res.writeHead(400, { 'content-type': 'text/plain', connection: 'close' }).end('bad request\n');
        return;
      }
      for (const route of extra) if (await route(req, res)) return;
      if (url.pathname !== now.receiver.path) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      if (req.method !== 'POST') {
        res.writeHead(405, { 'content-type': 'text/plain', allow: 'POST' }).end('method not allowed\n');
        return;
      }
      const client = clientOf(req);
      let body: Body;
      try {
        body = await readBody(req, now.receiver.maxBytes, budget, client);
      } catch (err) {
        if (err instanceof TooLarge) {
          log.warn({ client, maxBytes: now.receiver.maxBytes }, 'upload refused: too large');
          return refuse(req, res, 'STOCK_TOO_LARGE');
        }
        if (err instanceof Busy) {
          log.warn(
            { client, inflightBytes: budget.bytes, maxInflightBytes: budget.max },
            'upload refused: busy (receiver.maxInflightBytes)',
          );
          return refuse(req, res, 'STOCK_BUSY');
        }
        if (req.destroyed) return; // the client went away mid-body: nobody to answer
        throw err;
      }
      try {
        send(res, await handler.handle(body.bytes, req.headers['content-type'], client));
      } finally {
        body.release();
      }
    } catch (err) {
      log.error({ err: (err as Error).message, path: preview(url?.pathname ?? '') }, 'receiver error');
      if (!res.headersSent) send(res, { ...ngAnswer('STOCK_UNAVAILABLE'), charset: 'utf-8' });
      else res.destroy();
    }
  });
  server.maxConnections = cfg.receiver.maxConnections;
  holder.onChange((next) => (server.maxConnections = next.receiver.maxConnections));
  limitPerAddress(server, cfg, log);
  reserveConnections(server, reserve, log);
  let dropped = 0;
  server.on('drop', () => {
    // one line a minute at most: a flood must not flood the log too
    if (dropped++ === 0) {
      setTimeout(() => {
        log.warn({ dropped, maxConnections: server.maxConnections }, 'connections refused (receiver.maxConnections)');
        dropped = 0;
      }, 60_000).unref();
    }
  });
  return server;
}

/** Closes a connection at once when its peer already holds maxConnectionsPerAddress of them. Trusted proxies
 * are exempt (every client behind one shares its address), and so are adminClients (the operator's own hosts,
 * loopback by default). Counted by socket peer, before any header is read. */
function limitPerAddress(server: Server, cfg: Config, log: Logger): void {
  const max = cfg.receiver.maxConnectionsPerAddress;
  const exempt = allowList([...cfg.receiver.trustedProxies, ...cfg.receiver.adminClients]);
  const open = new Map<string, number>();
  let refused = 0;
  server.on('connection', (socket) => {
    const peer = socket.remoteAddress ?? 'unknown';
    if (exempt(peer)) return;
    const mine = open.get(peer) ?? 0;
    if (mine >= max) {
      socket.destroy();
      if (refused++ === 0) {
        // one line a minute at most
        setTimeout(() => {
          log.warn({ refused, maxConnectionsPerAddress: max }, 'connections refused (receiver.maxConnectionsPerAddress)');
          refused = 0;
        }, 60_000).unref();
      }
      return;
    }
    open.set(peer, mine + 1);
    socket.once('close', () => {
      const left = (open.get(peer) ?? 1) - 1;
      if (left > 0) open.set(peer, left);
      else open.delete(peer);
    });
  });
}

/**
 * Ends a connection whose request body is refused unread, without losing the answer. A socket closed
 * with unread bytes makes the kernel send RST, and the client's stack may drop the 503/413 it had not
 * read yet (seen under load: 3 of 16 'busy' answers lost). As Apache and nginx do ("lingering close"):
 * the answer says `Connection: close`, node half-closes after it; the rest of the body is read and
 * discarded, and the socket closes for good when the client is done or LINGER_MS has passed.
 */
function lingerClose(req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket;
  res.setHeader('connection', 'close');
  res.once('finish', () => {
    // node's answer to `Connection: close` is socket.destroySoon(): end() now, destroy() once the end
    // is flushed. Keep the end, delay the destroy. Should node ever close differently, this changes
    // nothing and the socket closes at once, as before.
    socket.removeListener('finish', socket.destroy);
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.once('close', () => clearTimeout(timer));
    socket.once('end', () => socket.destroy()); // the client has sent all it will
  });
  req.resume(); // discarded: nothing of a refused body is kept
}
