// /healthz (the process answers), /readyz (Redis and SQLite answer, and every extra check passes) and
// /metrics, as extra HTTP routes. /healthz is open to anyone; /metrics and /readyz only to
// receiver.adminClients (others get 403), and /readyz's body says only "ready" or "not ready": what is
// wrong (socket paths, error texts) goes to the log, once per change.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { DB } from '../db/open.js';
import type { Metrics } from './metrics.js';
import { withTimeout } from './timeout.js';
import type { Server } from 'node:http';
import { http } from '../net/node-http.js';
import type { Logger } from './logger.js';
import { allowList } from '../net/address-list.js';

const READY_TIMEOUT_MS = 1000;

export interface HealthDeps {
  redis: Redis;
  dbs: DB[];
  log: Logger;
  /** CIDRs that may read /metrics and /readyz (receiver.adminClients). */
  adminClients: readonly string[];
  /** The client's address (behind a trusted proxy, the one it forwarded); default: the socket's peer. */
  clientOf?: (req: IncomingMessage) => string;
  metrics?: Metrics;
  /** Brings figures up to date (awaited: under `start` the upload figures come from the stock thread). */
  beforeScrape?: () => void | Promise<void>;
  /** More readiness conditions, each returning a problem or undefined (the relay's delivery thread). */
  checks?: (() => string | undefined)[];
}

export function healthRoutes(deps: HealthDeps) {
  const isAdmin = allowList(deps.adminClients);
  const clientOf = deps.clientOf ?? ((req: IncomingMessage) => req.socket.remoteAddress ?? '');
  let lastProblems = '';
  return [
    async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
      const path = (req.url ?? '').split('?')[0];
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return true;
      }
      if (path !== '/metrics' && path !== '/readyz') return false;
      if (!isAdmin(clientOf(req))) {
        res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden\n');
        return true;
      }
      if (path === '/metrics' && deps.metrics) {
        await deps.beforeScrape?.();
        const body = await deps.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': deps.metrics.registry.contentType }).end(body);
        return true;
      }
      if (path !== '/readyz') return false;
      const problems: string[] = [];
      try {
        await withTimeout(deps.redis.ping(), READY_TIMEOUT_MS, 'ping');
      } catch (err) {
        problems.push(`redis: ${(err as Error).message}`);
      }
      for (const db of deps.dbs) {
        try {
          db.prepare('SELECT 1').get();
        } catch (err) {
          problems.push(`sqlite ${db.name}: ${(err as Error).message}`);
        }
      }
      for (const check of deps.checks ?? []) {
        const problem = check();
        if (problem) problems.push(problem);
      }
      if (problems.join('\n') !== lastProblems) {
        // each change once, not once per probe
        if (problems.length) deps.log.warn({ problems }, 'not ready');
        else deps.log.info('ready again');
        lastProblems = problems.join('\n');
      }
      res.writeHead(problems.length ? 503 : 200, { 'content-type': 'text/plain' }).end(problems.length ? 'not ready\n' : 'ready\n');
      return true;
    },
  ];
}

/** Probes and scrapers are a few; more sockets than this at once are closed as they come. */
export const HEALTH_MAX_CONNECTIONS = 32;
/** A probe sends its request at once: node's defaults (60 s for the headers) would let idle sockets pile up. */
const HEALTH_TIMEOUTS = { headersTimeout: 5_000, requestTimeout: 10_000, connectionsCheckingInterval: 1_000 };

/**
 * A small HTTP listener of its own (relay.metricsPort, when the relay runs alone). It listens on relay.host
 * beside the SMTP port: unbounded, idle connections to it took every file descriptor of the process, and
 * the relay could neither accept a session nor open a spool file.
 */
export function healthServer(routes: ReturnType<typeof healthRoutes>): Server {
  const server = http.createServer(HEALTH_TIMEOUTS, async (req, res) => {
    try {
      for (const route of routes) if (await route(req, res)) return;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    } catch {
      // a rejection nothing catches would end the relay: a failed scrape is a 500, nothing more
      if (res.headersSent) res.destroy();
      else res.writeHead(500, { 'content-type': 'text/plain' }).end('error\n');
    }
  });
  server.maxConnections = HEALTH_MAX_CONNECTIONS;
  return server;
}
