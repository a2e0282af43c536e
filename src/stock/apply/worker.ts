// The stock worker role: consumes apply jobs, re-enqueues stored-but-unapplied uploads at start and
// every minute, prunes old history once a day, and (with receiver.dropDir) watches for stock files.
import { Queue, Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../../config/schema.js';
import { configOf, type ConfigHolder } from '../../config/holder.js';
import type { DB } from '../../db/open.js';
import type { Logger } from '../../observe/logger.js';
import { onReconnect, createRedis, closeRedis, closeQueue, type RedisSpec } from '../../queue/redis.js';
import { STOCK_QUEUE, applyJobId, WORKER_LOCKS, type ApplyJobData, type OrderJobData, type StockJobData } from '../../queue/names.js';
import { applyOrder, type OrderResult } from '../orders/decrement.js';
import { WatchedWorker, type WatchedWorkerOptions } from '../../queue/watched-worker.js';
import { UploadStore } from '../store.js';
import { applyUpload, type ApplyResult } from './apply.js';
import { enqueueApply } from './enqueue.js';
import { releaseAfterUpload } from '../release-memory.js';
import { DropDirWatcher, pruneDropDir } from '../files/drop-dir.js';
import { orderKeepDays, pruneOrders } from '../orders/prune.js';

export interface StockWorkerOptions {
  sweepMs?: number;
  pruneMs?: number;
  dropPollMs?: number;
  queueName?: string;
  /** After each job (an apply wrote changes): the webhook pusher looks at once. */
  onJobDone?: () => void;
  /** The watchdog's reports (recreations, readiness) and, for tests, its bounds. */
  watchdog?: Partial<Pick<WatchedWorkerOptions, 'onRecreated' | 'onProblem' | 'staleMs' | 'checkMs'>>;
}

export class StockWorker {
  private worker?: WatchedWorker<StockJobData, ApplyResult | OrderResult>;
  readonly queue: Queue<ApplyJobData>;
  private timers: NodeJS.Timeout[] = [];
  private dropDir?: DropDirWatcher;
  private readonly store: UploadStore;
  private readonly connections: Redis[] = [];
  private closing = false;
  private pruning?: Promise<void>;

  constructor(
    private readonly config: Config | ConfigHolder,
    private readonly db: DB,
    private readonly redis: RedisSpec | string,
    private readonly log: Logger,
    private readonly opts: StockWorkerOptions = {},
  ) {
    this.store = new UploadStore(db);
    this.queue = new Queue(opts.queueName ?? STOCK_QUEUE, { connection: this.connect('client'), prefix: configOf(config).redis.prefix });
    this.queue.on('error', (err) => this.log.warn({ err: err.message }, 'stock queue connection error'));
  }

  /** The current config: each prune and drop-folder scan reads it at its start. */
  private get cfg(): Config {
    return configOf(this.config);
  }

  async start(): Promise<void> {
    this.worker = new WatchedWorker<StockJobData, ApplyResult | OrderResult>(
      this.queue.name,
      async (job) => (job.name === 'order' ? this.order(job as Job<OrderJobData>) : this.apply(job as Job<ApplyJobData>)),
      {
        prefix: this.cfg.redis.prefix,
        concurrency: 1, // applies are serial SQLite transactions anyway
        ...WORKER_LOCKS,
        drainDelay: 1, // idle, it polls every second: the watchdog's heartbeat, and a quick close()
      },
      this.redis,
      { label: 'stock', log: this.log, ...this.opts.watchdog },
      (w) => {
        w.on('error', (err) => this.log.warn({ err: err.message }, 'stock worker connection error'));
        w.on('completed', () => this.opts.onJobDone?.());
        w.on('failed', (job, err) => this.log.error({ job: job?.id, err: err.message }, 'stock job failed'));
      },
    );
    this.worker.start();
    await this.sweep();
    this.timers.push(setInterval(() => void this.sweep(), this.opts.sweepMs ?? 60_000));
    // After an outage or a failover (the old master's last jobs may be gone), at once.
    onReconnect(this.connections[0], () => void this.sweep());
    this.timers.push(setInterval(() => this.prune(), this.opts.pruneMs ?? 86_400_000));
    this.prune();
    if (this.cfg.receiver.dropDir) {
      this.dropDir = new DropDirWatcher(this.config, this.store, this.queue, this.log, this.opts.dropPollMs);
      this.dropDir.start();
    }
  }

  /** The watched worker (for /readyz and tests). */
  get watched(): WatchedWorker<StockJobData, ApplyResult | OrderResult> | undefined {
    return this.worker;
  }

  /** BullMQ does not close connections it was given: keep them to close ourselves. */
  private connect(kind: 'client'): Redis {
    const c = createRedis(this.redis, kind);
    this.connections.push(c);
    return c;
  }

  private async apply(job: Job<ApplyJobData>): Promise<ApplyResult> {
    const started = performance.now();
    const result = applyUpload(this.db, job.data.uploadId);
    this.log.info(
      {
        uploadId: result.uploadId,
        applied: result.applied,
        skipped: result.skipped,
        again: result.alreadyApplied,
        ms: Math.round(performance.now() - started),
      },
      'upload applied',
    );
    if (!result.alreadyApplied) releaseAfterUpload(this.db, result.applied + result.skipped);
    return result;
  }

  private async order(job: Job<OrderJobData>): Promise<OrderResult> {
    const started = performance.now();
    const { shop, key, qid, orderNumber } = job.data;
    const r = applyOrder(this.db, job.data);
    for (const uploadId of r.uploadsFirst) this.log.info({ uploadId, qid }, 'upload applied ahead of the later order mail');
    this.log.info(
      {
        qid,
        shop,
        order: orderNumber,
        key,
        applied: r.applied,
        skipped: r.skipped,
        again: r.alreadyApplied,
        ms: Math.round(performance.now() - started),
      },
      'order mail lowered stock',
    );
    return r;
  }

  /** Uploads stored but not applied (Redis was down, a crash): enqueue again; retry a failed job. */
  async sweep(): Promise<number> {
    let n = 0;
    for (const id of this.store.pendingIds()) {
      try {
        const job = await Job.fromId(this.queue, applyJobId(id));
        if (job && (await job.isFailed())) await job.retry();
        else if (!job && (await enqueueApply(this.queue, id))) n++;
      } catch (err) {
        this.log.warn({ uploadId: id, err: (err as Error).message }, 'sweep could not enqueue (Redis down?); will try again');
        break;
      }
    }
    if (n) this.log.info({ count: n }, 'sweep enqueued stored uploads');
    return n;
  }

  /** The daily retention; one run at a time (its deletes go in batches across turns), awaited by close(). */
  private prune(): void {
    this.pruning ??= this.pruneHistory().finally(() => (this.pruning = undefined));
  }

  private async pruneHistory(): Promise<void> {
    const { uploadDays, dropDays } = this.cfg.retention;
    const stop = () => this.closing;
    try {
      const files = pruneDropDir(this.cfg, dropDays);
      if (files) this.log.info({ files }, `removed ${files} stock file(s) older than retention.dropDays from done/ and failed/`);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'drop folder retention failed; will try again');
    }
    try {
      const r = await this.store.prune(uploadDays, Date.now(), stop);
      if (r.items || r.changes) this.log.info(r, 'pruned upload history');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'upload history retention failed; will try again');
    }
    const days = orderKeepDays(this.cfg.retention);
    try {
      const r = await pruneOrders(this.db, Date.now() - days * 86_400_000, stop);
      if (r.orders || r.items)
        this.log.info(r, `pruned ${r.orders} order(s) applied more than ${days} days ago (retention.mailDays, uploadDays)`);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'order retention failed; will try again');
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    await this.pruning;
    await this.dropDir?.stop();
    await this.worker?.close();
    await closeQueue(this.queue);
    await Promise.all(this.connections.map((c) => closeRedis(c)));
  }
}
