// The console role: the web console on console.host:port. It opens the same stores the CLI reads
// (ledger.db, stock.db, the queues) and never writes the spool; `start` runs it when console.users is set.
import { Queue } from 'bullmq';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.js';
import { ConfigHolder } from '../config/holder.js';
import { DEMO_CONSOLE_USER, hasDemoConsoleUser } from '../config/demo.js';
import { DataDirLock } from './data-dir-lock.js';
import { openDb } from '../db/open.js';
import type { Logger } from '../observe/logger.js';
import { closeQueue, closeRedis, createRedis, type RedisSpec } from '../queue/redis.js';
import { LedgerStore } from '../ledger/store.js';
import { UploadStore } from '../stock/store.js';
import { instanceQueues } from '../queries/queues.js';
import { Auth } from '../console/auth.js';
import { createConsoleServer } from '../console/server.js';
import type { RunningRole } from './receiver.js';

export async function startConsole(
  config: Config | ConfigHolder,
  redisTarget: RedisSpec | string,
  log: Logger,
  lockConsole = false,
): Promise<RunningRole> {
  const holder = ConfigHolder.of(config);
  const cfg = holder.get(); // listener and stores: RESTART_KEYS; each request reads the holder
  // Run alone (not under start) it holds the console part, so `config reload` finds its pid.
  const lock = lockConsole ? DataDirLock.take(cfg.dataDir, ['console']) : undefined;
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
    get cfg() {
      return holder.get();
    },
    log,
    auth: new Auth(() => holder.get().console.users), // logins outlive a reload; new users can log in
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
    lock?.release();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const host = cfg.console.host.includes(':') ? `[${cfg.console.host}]` : cfg.console.host;
  const url = `http://${host}:${port}/`;
  log.info({ host: cfg.console.host, port, url, users: cfg.console.users.length }, 'console listening');
  if (hasDemoConsoleUser(cfg)) {
    const { name, password } = DEMO_CONSOLE_USER;
    log.info(
      { url, user: name },
      `console demo login at ${url}: user ${name}, password ${password} ` +
        '(this user exists in config/example.yaml only; a real config lists its own users)',
    );
  }
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
      lock?.release();
    },
  };
}
