// GET /api/stock/changes on the receiver's port: the change feed for the cart (design.md "Third
// round"). Bearer token per shop (shops[].cart.token), failures counted in the receiver's lockout; a
// long-poll `wait` holds the answer until a change lands (one timer polls stock.db's sequence for all
// waiters: the worker that writes changes is another process). Tokens are never logged.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../../config/schema.js';
import type { DB } from '../../db/open.js';
import type { Logger } from '../../observe/logger.js';
import type { Lockout } from '../../security/lockout.js';
import { bearerToken, tokenMatches } from '../../security/bearer-token.js';
import { preview } from '../../security/untrusted-text.js';
import { requestTarget } from '../../security/request-target.js';
import { ChangeFeed, FEED_LIMIT_DEFAULT, FEED_LIMIT_MAX, type FeedPage } from '../changes/feed.js';
import type { ExtraRoute } from './server.js';

const CHANGES_PATH = '/api/stock/changes';
const MAX_WAIT_S = 60;
/** Long-polls held at once; beyond, a request is answered at once (an empty page is a valid answer). */
const MAX_WAITERS = 128;
const POLL_MS = 100;
const MAX_CURSOR = Number.MAX_SAFE_INTEGER;
/** The lockout's user part for a shop's feed (uploads use the sys_id). */
const lockoutUser = (shop: string) => `cart-feed:${shop}`;

interface Waiter {
  shop: string;
  after: number;
  done(): void;
}

class BadRequest extends Error {}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function intParam(q: URLSearchParams, name: string, def: number, min: number, max: number): number {
  const all = q.getAll(name);
  if (all.length === 0) return def;
  if (all.length > 1) throw new BadRequest(`${name} given more than once`);
  if (!/^\d{1,16}$/.test(all[0]) || Number(all[0]) < min || Number(all[0]) > max)
    throw new BadRequest(`${name} must be a whole number from ${min} to ${max}`);
  return Number(all[0]);
}

export class ChangesRoute {
  private readonly feed: ChangeFeed;
  private readonly waiters = new Set<Waiter>();
  private timer?: NodeJS.Timeout;
  private lastSeq = -1;

  constructor(
    private readonly cfg: () => Config,
    db: DB,
    private readonly lockout: Lockout,
    private readonly clientOf: (req: IncomingMessage) => string,
    private readonly log: Logger,
  ) {
    this.feed = new ChangeFeed(db);
  }

  readonly route: ExtraRoute = async (req, res) => {
    const url = requestTarget(req.url, 'http://x');
    if (url?.pathname !== CHANGES_PATH) return false;
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      json(res, 405, { error: 'method_not_allowed' });
      return true;
    }
    let shop: string, after: number, limit: number, waitS: number;
    try {
      const q = url.searchParams;
      const shops = q.getAll('shop');
      if (shops.length !== 1 || shops[0] === '') throw new BadRequest('shop is required, once');
      shop = shops[0];
      after = intParam(q, 'after', 0, 0, MAX_CURSOR);
      limit = intParam(q, 'limit', FEED_LIMIT_DEFAULT, 1, FEED_LIMIT_MAX);
      waitS = intParam(q, 'wait', 0, 0, MAX_WAIT_S);
    } catch (err) {
      if (!(err instanceof BadRequest)) throw err;
      json(res, 400, { error: 'bad_request', detail: err.message });
      return true;
    }
    if (!this.authorized(req, shop)) {
      json(res, 401, { error: 'unauthorized' });
      return true;
    }
    // Ids only grow: a cursor past the highest id ever given is none this stock.db gave (a stock.db restored
    // from an older backup, a cart's own arithmetic). Waiting on it would hide every change until ids reach it.
    const newest = this.feed.sequence();
    if (after > newest) {
      json(res, 400, { error: 'bad_request', detail: `after is beyond the newest change id (${newest})` });
      return true;
    }
    let page = this.feed.page(shop, after, limit);
    if (!('expired' in page) && page.changes.length === 0 && waitS > 0) {
      await this.wait(req, shop, after, waitS * 1000);
      page = this.feed.page(shop, after, limit);
    }
    if ('expired' in page) json(res, 410, { error: 'cursor_expired', oldest: page.oldest });
    else if (!res.destroyed) json(res, 200, page satisfies FeedPage);
    return true;
  };

  /** Token check; a locked (address, shop) pair is refused unchecked. Counted before the compare, as uploads are. */
  private authorized(req: IncomingMessage, shop: string): boolean {
    const client = this.clientOf(req);
    const configured = this.cfg().shops.find((s) => s.id === shop)?.cart?.token;
    const user = lockoutUser(shop);
    if (this.lockout.isLocked(client, user)) {
      this.log.warn({ client, shop: preview(shop) }, 'change feed refused: locked out');
      return false;
    }
    const given = bearerToken(req.headers.authorization);
    if (configured !== undefined && given !== undefined && tokenMatches(configured, given)) {
      this.lockout.succeed(client, user);
      return true;
    }
    const locked = this.lockout.fail(client, user);
    this.log.warn(
      { client, shop: preview(shop), why: given === undefined ? 'no bearer token' : 'wrong token', locked },
      'change feed refused: unauthorized',
    );
    return false;
  }

  /** Resolves when the shop has a change after `after`, the time is up, the client left or the route closes. */
  private wait(req: IncomingMessage, shop: string, after: number, ms: number): Promise<void> {
    if (this.waiters.size >= MAX_WAITERS) return Promise.resolve();
    return new Promise((resolve) => {
      const timeout = setTimeout(() => waiter.done(), ms);
      const waiter: Waiter = {
        shop,
        after,
        done: () => {
          clearTimeout(timeout);
          req.socket.removeListener('close', waiter.done);
          this.waiters.delete(waiter);
          if (this.waiters.size === 0) this.stopPolling();
          resolve();
        },
      };
      req.socket.once('close', waiter.done);
      this.waiters.add(waiter);
      this.startPolling();
    });
  }

  private startPolling(): void {
    if (this.timer) return;
    this.lastSeq = this.feed.sequence();
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  private stopPolling(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One read of stock.db's change sequence per tick; only when it moved are the waiters' shops looked at. */
  private poll(): void {
    try {
      const seq = this.feed.sequence();
      if (seq === this.lastSeq) return;
      this.lastSeq = seq;
      for (const w of [...this.waiters]) if (this.feed.latestId(w.shop) > w.after) w.done();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'change feed poll failed');
    }
  }

  /** Answers every long-poll now (shutdown: the server must not wait a minute for them). */
  close(): void {
    for (const w of [...this.waiters]) w.done();
    this.stopPolling();
  }
}
