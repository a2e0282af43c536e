// /healthz (the process answers), /readyz (Redis and SQLite answer, and every extra check passes) and
// /metrics, as extra HTTP routes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { DB } from '../db/open.js';
import type { Metrics } from './metrics.js';
import { withTimeout } from './timeout.js';
import { createServer, type Server } from 'node:http';

const READY_TIMEOUT_MS = 1000;

/** `checks`: more readiness conditions, each returning a problem or undefined (the relay's delivery thread). */
export function healthRoutes(
  deps: { redis: Redis; dbs: DB[]; metrics?: Metrics; beforeScrape?: () => void; checks?: (() => string | undefined)[] },
) {
  return [
    async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
      const path = (req.url ?? '').split('?')[0];
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return true;
      }
      if (path === '/metrics' && deps.metrics) {
        deps.beforeScrape?.();
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
        try { db.prepare('SELECT 1').get(); } catch (err) { problems.push(`sqlite ${db.name}: ${(err as Error).message}`); }
      }
      for (const check of deps.checks ?? []) {
        const problem = check();
        if (problem) problems.push(problem);
      }
      res.writeHead(problems.length ? 503 : 200,
        { 'content-type': 'text/plain' }).end(problems.length ? problems.join('\n') + '\n' : 'ready\n');
      return true;
    },
  ];
}

/** A small HTTP listener of its own (relay.metricsPort, when the relay runs alone). */
export function healthServer(routes: ReturnType<typeof healthRoutes>): Server {
  return createServer(async (req, res) => {
    for (const route of routes) if (await route(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
}
