// The console role: the web console on console.host:port. It opens the same stores the CLI reads
// (ledger.db, stock.db, the queues) and never writes the spool; `start` runs it when console.users is set.
import { Queue } from 'bullmq';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.js';
import { openDb } from '../db/open.js';
import type { Logger } from '../observe/logger.js';
import { closeQueue, closeRedis, createRedis, type RedisSpec } from '../queue/redis.js';
import { LedgerStore } from '../ledger/store.js';
import { UploadStore } from '../stock/store.js';
import { instanceQueues } from '../queries/queues.js';
import { Auth } from '../console/auth.js';
import { createConsoleServer } from '../console/server.js';
import type { RunningRole } from './receiver.js';

export async function startConsole(cfg: Config, redisTarget: RedisSpec | string, log: Logger): Promise<RunningRole> {
  // NORMAL is enough here: the console's writes (resend, catalog import) are operator actions, repeated if lost.
  const ledgerDb = openDb(cfg.dataDir, 'ledger', { synchronous: 'NORMAL' });
  const stockDb = openDb(cfg.dataDir, 'stock');
  const redis = createRedis(redisTarget, 'client');
  const cache = new Map<string, Queue>();
  const get = (name: string) => {
    let q = cache.get(name);
    if (!q) {
      q = new Queue(name, { connection: redis, prefix: cfg.redis.prefix });
      q.on('error', (err) => log.warn({ err: err.message, queue: name }, 'console queue connection error'));
      cache.set(name, q);
    }
    return q;
  };
  const server = createConsoleServer({
    cfg,
    log,
    auth: new Auth(cfg.console.users),
    redis,
    ledgerDb,
    stockDb,
    ledger: new LedgerStore(ledgerDb),
    uploads: new UploadStore(stockDb),
    queues: { cfg, get, all: instanceQueues(cfg).map(get) },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(cfg.console.port, cfg.console.host, () => resolve());
    });
  } catch (err) {
    for (const q of cache.values()) await closeQueue(q);
    await closeRedis(redis);
    ledgerDb.close();
    stockDb.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  log.info({ host: cfg.console.host, port, users: cfg.console.users.length }, 'console listening');
  return {
    port,
    async close() {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
      for (const q of cache.values()) await closeQueue(q);
      await closeRedis(redis);
      ledgerDb.close();
      stockDb.close();
    },
  };
}
