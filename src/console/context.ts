// What a console route handler gets: the request, the stores, the words, the session; and how it answers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import type { DB } from '../db/open.js';
import type { Logger } from '../observe/logger.js';
import type { LedgerStore } from '../ledger/store.js';
import type { UploadStore } from '../stock/store.js';
import type { QueueSet } from '../queries/queues.js';
import type { View } from './layout.js';
import type { Auth, Session } from './auth.js';

export interface ConsoleDeps {
  cfg: Config;
  log: Logger;
  auth: Auth;
  redis: Redis;
  ledgerDb: DB;
  stockDb: DB;
  ledger: LedgerStore;
  uploads: UploadStore;
  queues: QueueSet & { all: Queue[] };
}

export interface Ctx extends View {
  req: IncomingMessage;
  res: ServerResponse;
  deps: ConsoleDeps;
  params: string[];
  client: string;
  secure: boolean;
  session?: Session;
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

export function send(
  c: Ctx,
  status: number,
  body: string | Buffer,
  type = 'text/html; charset=utf-8',
  extra: Record<string, string | string[]> = {},
): void {
  c.res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...extra }).end(body);
}

export function redirect(c: Ctx, location: string, extra: Record<string, string | string[]> = {}): void {
  c.res.writeHead(303, { ...SECURITY_HEADERS, location, ...extra }).end();
}

export function cookie(c: Ctx, name: string, value: string, opts: { maxAge?: number; httpOnly?: boolean } = {}): string {
  return [
    `${name}=${encodeURIComponent(value)}`,
    'Path=/',
    'SameSite=Strict',
    opts.httpOnly === false ? '' : 'HttpOnly',
    c.secure ? 'Secure' : '',
    opts.maxAge !== undefined ? `Max-Age=${opts.maxAge}` : '',
  ]
    .filter(Boolean)
    .join('; ');
}

/** Every action is logged with the user's name. */
export function audit(c: Ctx, action: string, fields: Record<string, unknown> = {}): void {
  c.deps.log.info({ user: c.session?.user, client: c.client, action, ...fields }, 'console action');
}

/** A positive page number from ?page= (1 when absent or not a number). */
export function pageNo(c: Ctx): number {
  const n = Number(c.url.searchParams.get('page'));
  return Number.isInteger(n) && n > 0 && n < 1e7 ? n : 1;
}
