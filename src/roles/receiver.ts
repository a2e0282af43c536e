// The receiver role: the upload endpoint plus health routes on receiver.host:port.
import { Queue } from 'bullmq';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.js';
import { ConfigHolder } from '../config/holder.js';
import { openDb } from '../db/open.js';
import type { Logger } from '../observe/logger.js';
import { closeQueue, closeRedis, createRedis, type RedisSpec } from '../queue/redis.js';
import { STOCK_QUEUE, type ApplyJobData } from '../queue/names.js';
import { UploadStore } from '../stock/store.js';
import { UploadHandler, figuresOf, type Uploads } from '../stock/receive/upload-handler.js';
import { createReceiverServer, type HttpTimeouts } from '../stock/receive/server.js';
import { ChangesRoute } from '../stock/receive/changes-route.js';
import { clientAddress } from '../stock/receive/client-address.js';
import { healthRoutes } from '../observe/health.js';
import { Metrics } from '../observe/metrics.js';
import { DataDirLock } from './data-dir-lock.js';
import { webhookFigures } from '../queries/webhook.js';
import { Lockout } from '../security/lockout.js';

export interface RunningRole {
  close(): Promise<void>;
  port?: number;
  /** Where a reload's outcome is counted (the process's /metrics). */
  metrics?: Metrics;
  /** A reload's own checks of a valid config (the relay: can relay.tls be read); each problem as `key: why`. */
  checkConfig?(cfg: Config): string[];
}
interface ReceiverOptions {
  queueName?: string;
  metrics?: Metrics;
  readyChecks?: (() => string | undefined)[];
  httpTimeouts?: HttpTimeouts;
  /** Where uploads are handled when not in this thread (`start`: its stock thread, roles/thread-uploads.ts). */
  uploads?: Uploads;
}

export async function startReceiver(
  config: Config | ConfigHolder,
  redisTarget: RedisSpec | string,
  log: Logger,
  opts: ReceiverOptions & { dataDirLocked?: boolean } = {},
): Promise<RunningRole & { metrics: Metrics; lockout?: Lockout }> {
  const holder = ConfigHolder.of(config);
  const lock = opts.dataDirLocked ? undefined : DataDirLock.take(holder.get().dataDir, ['receiver']);
  try {
    return await listen(holder, redisTarget, log, opts, () => lock?.release());
  } catch (err) {
    lock?.release();
    throw err;
  }
}

async function listen(
  holder: ConfigHolder,
  redisTarget: RedisSpec | string,
  log: Logger,
  opts: ReceiverOptions,
  release: () => void,
): Promise<RunningRole & { metrics: Metrics; lockout?: Lockout }> {
  const cfg = holder.get(); // what is read once (RESTART_KEYS); requests read the holder
  const db = openDb(cfg.dataDir, 'stock');
  const redis = createRedis(redisTarget, 'client');
  const queue = new Queue<ApplyJobData>(opts.queueName ?? STOCK_QUEUE, { connection: redis, prefix: cfg.redis.prefix });
  queue.on('error', (err) => log.warn({ err: err.message }, 'stock queue connection error'));
  const metrics = opts.metrics ?? new Metrics();
  metrics.watchQueue(queue);
  metrics.watchWebhooks(() => webhookFigures(db, holder.get()));
  const local = opts.uploads ? undefined : new UploadHandler(holder, new UploadStore(db), queue, log, figuresOf(metrics));
  const handler = opts.uploads ?? local!;
  // The change feed's failed tokens are counted here, apart from the upload passwords' (counted where they
  // are checked, which under `start` is the stock thread): its keys (`cart-feed:<shop>`) are no sys_id anyway.
  const l = cfg.receiver.lockout; // a restart key: the counts outlive reloads
  const feedLockout = new Lockout({ failures: l.failures, windowMs: l.window, durationMs: l.duration });
  const changes = new ChangesRoute(() => holder.get(), db, feedLockout, clientAddress(cfg.receiver.trustedProxies), log);
  const server = createReceiverServer(
    holder,
    handler,
    log,
    [
      changes.route,
      ...healthRoutes({
        redis,
        dbs: [db],
        log,
        metrics,
        adminClients: cfg.receiver.adminClients,
        clientOf: clientAddress(cfg.receiver.trustedProxies),
        beforeScrape: () => handler.countLateApplies(),
        checks: opts.readyChecks,
      }),
    ],
    opts.httpTimeouts,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(cfg.receiver.port, cfg.receiver.host, () => resolve());
    });
  } catch (err) {
    // port taken: nothing of this role may linger
    await closeQueue(queue).catch(() => {});
    await closeRedis(redis);
    db.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  log.info({ host: cfg.receiver.host, port, path: cfg.receiver.path }, 'receiver listening');
  return {
    port,
    metrics,
    lockout: local?.lockout,
    async close() {
      changes.close();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeIdleConnections();
      });
      await closeQueue(queue);
      await closeRedis(redis);
      db.close();
      release();
    },
  };
}
