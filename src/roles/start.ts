// `start`: every role in one process tree. The private Redis (when redis.url is empty) is a child; the
// relay and the receiver's HTTP run here, the stock worker and the uploads' work (parse, password, store)
// in a thread of its own. Stop order: listeners, worker, Redis.
import type { Config } from '../config/schema.js';
import { ConfigHolder } from '../config/holder.js';
import type { Logger } from '../observe/logger.js';
import { DataDirLock } from './data-dir-lock.js';
import { EmbeddedRedis } from '../queue/embedded-redis.js';
import { connectOrFail, checkEvictionPolicy, closeRedis, redisSpec, type RedisSpec } from '../queue/redis.js';
import { startReceiver, type RunningRole } from './receiver.js';
import { startRelay } from './relay.js';
import { Metrics } from '../observe/metrics.js';
import { StockThread } from './stock-thread.js';
import { ThreadUploads } from './thread-uploads.js';
import { FlushPacer } from '../db/flush-pacer.js';
import { join } from 'node:path';

export async function startAll(config: Config | ConfigHolder, log: Logger): Promise<RunningRole> {
  const holder = ConfigHolder.of(config);
  const cfg = holder.get(); // what is read once at start (RESTART_KEYS); the roles read the holder
  // Every part before anything is touched; the stock thread works under this process's worker part.
  const lock = DataDirLock.take(cfg.dataDir, ['relay', 'receiver', 'worker', 'redis']);
  // A private Redis only when none is configured: not with redis.url, not with redis.sentinels.
  const embedded = cfg.redis.url || cfg.redis.sentinels.length ? undefined : new EmbeddedRedis(cfg.dataDir, log);
  const roles: RunningRole[] = [];
  let checkConfig: RunningRole['checkConfig'];
  const metrics = new Metrics(); // one registry: the receiver's /metrics shows the relay's and the worker's too
  let worker: StockThread | undefined;
  const close = async () => {
    worker?.stopRestarting();
    for (const r of roles.reverse()) await r.close().catch((err) => log.error({ err: (err as Error).message }, 'stop failed'));
    await worker?.close();
    await embedded?.stop();
    lock.release();
  };
  try {
    const spec: RedisSpec = embedded ? { url: await embedded.start() } : redisSpec(cfg);
    const probe = await connectOrFail(spec);
    await checkEvictionPolicy(probe, log);
    await closeRedis(probe);
    const uploadsBytes = cfg.receiver.maxInflightBytes; // the thread parses and stores the uploads
    const stock = new StockThread({ cfg, redis: spec, logLevel: log.level, uploadsBytes }, log, metrics);
    holder.onChange((next) => stock.reload(next, log.level));
    (worker = stock).start();
    const relay = await startRelay(holder, spec, log, { metrics, dataDirLocked: true });
    roles.push(relay);
    checkConfig = relay.checkConfig;
    const readyChecks = [relay.readiness, () => stock.problem()];
    // Uploads are parsed, checked and stored in the stock thread: a big one never holds an SMTP answer.
    // A big upload's writes to stock.db reach the disk in slices: an SMTP answer's fsync waits behind one.
    const pacer = new FlushPacer(['stock.db-wal', 'stock.db'].map((f) => join(cfg.dataDir, f)));
    const uploads = new ThreadUploads(stock, metrics, pacer);
    roles.push(await startReceiver(holder, spec, log, { metrics, readyChecks, uploads, dataDirLocked: true }));
    if (cfg.console.users.length) {
      const { startConsole } = await import('./console.js'); // loaded only when it runs: the console's pages cost memory
      roles.push(await startConsole(holder, spec, log));
    } else log.info('console not started: console.users is empty (add a user with a hash from `zaiko-bridge config hash-password`)');
  } catch (err) {
    await close();
    throw err;
  }
  log.info({ dataDir: cfg.dataDir }, 'zaiko-bridge started');
  return { close, metrics, checkConfig };
}
