// The relay role: SMTP listener (main thread) + delivery workers for this instance's own mail queue
// (a thread of their own: src/delivery/thread.ts), the recovery sweep, and (relay.metricsPort) a
// small HTTP listener for health.
import { Queue } from 'bullmq';
import { join } from 'node:path';
import { WalSync } from '../ledger/wal-sync.js';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.js';
import { ConfigHolder } from '../config/holder.js';
import { openDb } from '../db/open.js';
import type { Logger } from '../observe/logger.js';
import { closeQueue, closeRedis, onReconnect, createRedis, type RedisSpec } from '../queue/redis.js';
import { mailQueueName, STOCK_QUEUE, type MailJobData, type OrderJobData } from '../queue/names.js';
import { recoverOrders } from '../intake/stock-decrement.js';
import { LedgerStore } from '../ledger/store.js';
import { Spool } from '../intake/spool/spool.js';
import { Acceptor } from '../intake/accept.js';
import { createSmtpServer, tlsProblems } from '../relay/receive/smtp-server.js';
import { recoverMail, cleanSpool } from '../delivery/recovery.js';
import { DeliveryThread, type DeliveryThreadData } from '../delivery/thread.js';
import type { RunningRole } from './receiver.js';
import { Metrics } from '../observe/metrics.js';
import { healthRoutes, healthServer } from '../observe/health.js';
import { gcExposed } from '../observe/large-message-gc.js';
import { DataDirLock } from './data-dir-lock.js';

/** `dataDirLocked`: the caller (start) holds the relay part of the dataDir already. */
export interface RelayOptions {
  sweepMs?: number;
  queueName?: string;
  /** The stock queue that order mails' decrements go to (tests name their own). */
  stockQueueName?: string;
  metrics?: Metrics;
  dataDirLocked?: boolean;
  watchdog?: DeliveryThreadData['watchdog'];
}

export type RunningRelay = RunningRole & {
  queue: Queue<MailJobData>;
  ledger: LedgerStore;
  metrics: Metrics;
  sweep(): Promise<number>;
  readiness(): string | undefined;
};
type Stops = (() => unknown)[];

/**
 * Lock first (a second relay on this dataDir must not remove the first one's in-flight spool files as
 * orphans), then the ledger and spool, delivery, sweep, listeners. Anything that fails on the way
 * stops what was started, so a relay that cannot listen does not linger half-started.
 */
export async function startRelay(
  config: Config | ConfigHolder,
  redisTarget: RedisSpec | string,
  log: Logger,
  opts: RelayOptions = {},
): Promise<RunningRelay> {
  const holder = ConfigHolder.of(config);
  const lock = opts.dataDirLocked ? undefined : DataDirLock.take(holder.get().dataDir, ['relay']);
  const stops: Stops = [() => lock?.release()]; // run in reverse order
  const stopAll = async () => {
    for (const stop of stops.reverse())
      await Promise.resolve()
        .then(stop)
        .catch((err) => log.warn({ err: (err as Error).message }, 'relay stop step failed'));
  };
  try {
    return await startLocked(holder, redisTarget, log, opts, stops, stopAll);
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function startLocked(
  holder: ConfigHolder,
  redisTarget: RedisSpec | string,
  log: Logger,
  opts: RelayOptions,
  stops: Stops,
  stopAll: () => Promise<void>,
): Promise<RunningRelay> {
  const cfg = holder.get(); // what is read once at start (RESTART_KEYS); sessions and jobs read the holder
  // Accepts commit without an fsync inside COMMIT; WalSync fdatasyncs the WAL before each 250.
  const db = openDb(cfg.dataDir, 'ledger', { synchronous: 'NORMAL' });
  // Checkpoints (WAL pages copied into ledger.db, and its fsync) are left to the delivery thread's
  // connection, which commits after every delivery and checkpoints at SQLite's default 1,000 pages: on
  // this connection one held an accept 5-11 ms (tx p99 4.9-5.4 ms against p50 0.2). 10,000 pages
  // (40 MB of WAL) is the backstop for when that thread commits nothing.
  db.pragma('wal_autocheckpoint = 10000');
  stops.push(() => db.close());
  const ledger = new LedgerStore(db);
  const walSync = new WalSync(join(cfg.dataDir, 'ledger.db-wal'));
  stops.push(() => walSync.close());
  const spool = new Spool(cfg.dataDir);
  stops.push(() => spool.close());
  const orphans = spool.removeOrphans((id) => ledger.spoolKept(id));
  if (orphans) log.info({ count: orphans }, 'removed spool files never acknowledged (crash mid-DATA) or already final');
  if (!gcExposed)
    log.warn('node runs without --expose-gc: mail above 4 MiB may hold ~64 MB more memory in the delivery thread (run node --expose-gc)');
  const redis = createRedis(redisTarget, 'client');
  stops.push(() => closeRedis(redis));
  const queue = new Queue<MailJobData>(opts.queueName ?? mailQueueName(cfg.instance), { connection: redis, prefix: cfg.redis.prefix });
  queue.on('error', (err) => log.warn({ err: err.message }, 'mail queue connection error'));
  stops.push(() => closeQueue(queue));
  // Run alone, the relay serves its own metrics (relay.metricsPort); under `start` the receiver does.
  const metrics = opts.metrics ?? new Metrics();
  metrics.watchQueue(queue);
  const stockQueue = new Queue<OrderJobData>(opts.stockQueueName ?? STOCK_QUEUE, { connection: redis, prefix: cfg.redis.prefix });
  stockQueue.on('error', (err) => log.warn({ err: err.message }, 'stock queue connection error'));
  stops.push(() => closeQueue(stockQueue));
  const delivery = new DeliveryThread(
    {
      cfg,
      redis: typeof redisTarget === 'string' ? { url: redisTarget } : redisTarget,
      queueName: queue.name,
      stockQueueName: stockQueue.name,
      logLevel: log.level,
      watchdog: opts.watchdog,
    },
    log,
    metrics,
  );
  stops.push(() => delivery.close());
  await delivery.start();
  // Jobs are added by the delivery thread after the 250 (here while it restarts).
  const acceptor = new Acceptor(holder, spool, ledger, queue, log, walSync, metrics, stockQueue, (m) => delivery.handOff(m));
  holder.onChange((next) => delivery.reload(next, log.level));

  let sweeping: Promise<number> | undefined;
  const sweep = () =>
    (sweeping ??= recoverMail(queue, ledger, log)
      .then(async (n) => {
        await recoverOrders(stockQueue, ledger, log);
        await cleanSpool(holder.get(), ledger, spool, log, () => walSync.sync());
        return n;
      })
      .catch((err) => {
        log.warn({ err: (err as Error).message }, 'recovery sweep failed (Redis down?); will try again');
        return 0;
      })
      .finally(() => {
        sweeping = undefined;
      }));
  void sweep();
  const timer = setInterval(() => void sweep(), opts.sweepMs ?? 60_000);
  // Back after an outage or a failover (replication is asynchronous: the old master's last jobs may be
  // gone): sweep at once instead of within the minute.
  onReconnect(redis, () => void sweep());
  stops.push(() => sweeping);
  stops.push(() => clearInterval(timer));

  const listener = createSmtpServer(holder, acceptor, log, metrics);
  const server = listener.server;
  const health =
    !opts.metrics && cfg.relay.metricsPort !== undefined
      ? healthServer(
          healthRoutes({ redis, dbs: [db], metrics, log, adminClients: cfg.receiver.adminClients, checks: [() => delivery.problem()] }),
        )
      : undefined;
  if (health) {
    stops.push(() => health.close());
    await new Promise<void>((resolve, reject) => {
      health.once('error', reject);
      health.listen(cfg.relay.metricsPort, cfg.relay.host, () => resolve());
    });
    log.info({ port: (health.address() as AddressInfo).port }, 'relay metrics listening');
  }
  stops.push(() => listener.shutdown());
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(cfg.relay.port, cfg.relay.host, () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  log.info(
    {
      host: cfg.relay.host,
      port,
      queue: queue.name,
      upstream: cfg.upstream.outbox ? `outbox ${cfg.upstream.outbox}` : `${cfg.upstream.host}:${cfg.upstream.port}`,
    },
    'relay listening',
  );
  return { port, queue, ledger, sweep, metrics, readiness: () => delivery.problem(), checkConfig: tlsProblems, close: stopAll };
}
