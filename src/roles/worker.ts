// The worker role: stock applies (and the drop folder). Runs in a thread of its own under `start`
// (roles/stock-thread.ts), so a long SQLite transaction never stalls SMTP or HTTP.
import type { Config } from '../config/schema.js';
import { configOf, type ConfigHolder } from '../config/holder.js';
import { openDb } from '../db/open.js';
import type { Logger } from '../observe/logger.js';
import type { RedisSpec } from '../queue/redis.js';
import { StockWorker, type StockWorkerOptions } from '../stock/apply/worker.js';
import type { RunningRole } from './receiver.js';
import { DataDirLock } from './data-dir-lock.js';
import { startWebhookPusher, type RunningPusher } from './webhook.js';

// The stock-worker-<pid> part names this process for `config reload`; several workers in one process
// (tests, an embedding program) share it, so the second does not find its own process in the way.
const processParts = new Map<string, { lock: DataDirLock; users: number }>();

function takeProcessPart(dataDir: string): { release(): void } {
  let held = processParts.get(dataDir);
  if (!held) {
    held = { lock: DataDirLock.take(dataDir, [`stock-worker-${process.pid}`]), users: 0 };
    processParts.set(dataDir, held);
  }
  held.users++;
  const entry = held;
  return {
    release() {
      if (--entry.users > 0) return;
      entry.lock.release();
      processParts.delete(dataDir);
    },
  };
}

export async function startWorker(
  config: Config | ConfigHolder,
  redisTarget: RedisSpec | string,
  log: Logger,
  opts: StockWorkerOptions & { dataDirLocked?: boolean } = {},
): Promise<RunningRole & { worker: StockWorker }> {
  // The drop folder has one reader. Without one, several workers may share this stock.db (two on one
  // host, for throughput or a rolling restart): an apply is one idempotent transaction.
  const cfg = configOf(config); // dataDir and dropDir: RESTART_KEYS
  // Under `start` (its stock thread) the process already holds the worker part.
  const lock = opts.dataDirLocked
    ? undefined
    : cfg.receiver.dropDir
      ? DataDirLock.take(cfg.dataDir, ['worker'])
      : takeProcessPart(cfg.dataDir);
  const db = openDb(cfg.dataDir, 'stock');
  let pusher: RunningPusher | undefined;
  const worker = new StockWorker(config, db, redisTarget, log, { ...opts, onJobDone: () => pusher?.wake() });
  try {
    await worker.start();
    // Pushes from stock.db alone: it runs with Redis down too.
    pusher = startWebhookPusher(config, cfg.dataDir, log);
  } catch (err) {
    await pusher?.close().catch(() => {});
    await worker.close().catch(() => {});
    db.close();
    lock?.release();
    throw err;
  }
  log.info('stock worker running');
  return {
    worker,
    async close() {
      await pusher?.close();
      await worker.close();
      db.close();
      lock?.release();
    },
  };
}
