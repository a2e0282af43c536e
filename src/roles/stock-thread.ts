// Under `start`, the stock worker runs in a thread of this process instead of a second Node runtime
// (~45 MB of code pages and a heap less). A JavaScript error or an out-of-memory in it ends the thread
// only: SMTP and HTTP go on, /readyz names it, and it is started again like a dead process was
// (RestartBackoff, counted as zaiko_bridge_worker_restarts_total{worker="stock"}).
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { RedisSpec } from '../queue/redis.js';
import { RestartBackoff } from '../observe/restart-backoff.js';
import type { Answer } from '../stock/receive/upload-handler.js';

export interface StockThreadData {
  cfg: Config;
  redis: RedisSpec;
  logLevel: string;
  /** Upload bodies the thread may hold at once (`start`: receiver.maxInflightBytes, a restart key). */
  uploadsBytes?: number;
}
export type StockThreadMessage =
  | { type: 'ready' }
  | { type: 'close' }
  | { type: 'config'; cfg: Config; logLevel: string }
  | { type: 'recreated' }
  | { type: 'problem'; problem: string | undefined }
  // The upload endpoint in the thread (roles/thread-uploads.ts): a body in, its answer and figures out.
  | { type: 'upload'; id: number; body: ArrayBuffer; contentType: string | undefined; client: string }
  | { type: 'answer'; id: number; answer: Answer }
  | { type: 'count-late'; id: number }
  | { type: 'counted'; id: number }
  | { type: 'answered'; answer: string; seconds?: number }
  | { type: 'items'; outcome: string; reason: string; count: number };

/** Who hears the thread's other messages, and each end of a thread (a crash or a close). */
export interface StockThreadListener {
  message(m: StockThreadMessage): void;
  exited(): void;
}

/**
 * The thread's heap: a young generation of 3 MiB (what `--max-semi-space-size=1` gives the worker process,
 * STOCK_WORKER_NODE_FLAGS: semi-spaces of 2 × 1 MiB and as much for large objects), and an old generation
 * bounded so that a runaway apply ends the thread, not the process: 512 MiB for the worker, and room for the
 * uploads it parses (StockThreadData.uploadsBytes: at most receiver.maxInflightBytes of bodies at once).
 */
const YOUNG_MB = 3;
const WORKER_OLD_MB = 512;
/** A 13 MB form of 200,000 items is 54 MB of live heap once parsed and decoded (4.2 times its size). */
const PARSED_PER_BODY_BYTE = 5;
const MiB = 2 ** 20;
const CLOSE_BOUND_MS = 12_000; // an apply in progress finishes first; the process's own bound is 15 s

/** The compiled entry: under vitest this module is TypeScript, the thread still runs the build. */
function entryPath(): string {
  const here = fileURLToPath(import.meta.url);
  const built = here.endsWith('.ts')
    ? fileURLToPath(new URL('../../dist/roles/stock-thread-entry.js', import.meta.url))
    : here.replace(/stock-thread\.js$/, 'stock-thread-entry.js');
  if (!existsSync(built)) throw new Error(`${built} is missing: run npm run build`);
  return built;
}

export class StockThread {
  private worker?: Worker;
  private up = false;
  private closing = false;
  private upSince = 0;
  private restartTimer?: NodeJS.Timeout;
  private watchdogProblem?: string;
  private readonly backoff = new RestartBackoff();
  private listener?: StockThreadListener;
  private readonly upWaiters = new Set<() => void>();

  constructor(
    private readonly data: StockThreadData,
    private readonly log: Logger,
    private readonly metrics?: Metrics,
    /** Tests give a thread of their own. */
    private readonly entry = entryPath(),
  ) {}

  start(): void {
    const oldMb = WORKER_OLD_MB + Math.ceil(((this.data.uploadsBytes ?? 0) * PARSED_PER_BODY_BYTE) / MiB);
    const resourceLimits: ResourceLimits = { maxYoungGenerationSizeMb: YOUNG_MB, maxOldGenerationSizeMb: oldMb };
    const worker = (this.worker = new Worker(this.entry, { workerData: this.data, resourceLimits }));
    worker.on('message', (m: StockThreadMessage) => {
      if (m.type === 'ready') {
        this.up = true;
        this.upSince = Date.now();
        for (const wake of [...this.upWaiters]) wake();
      } else if (m.type === 'recreated') this.metrics?.workerRecreated.inc({ worker: 'stock' });
      else if (m.type === 'problem') this.watchdogProblem = m.problem;
      else this.listener?.message(m);
    });
    worker.on('error', (err) => this.log.error({ err: err.message, stack: err.stack }, 'stock thread failed'));
    worker.once('exit', (code) => {
      const upMs = this.up ? Date.now() - this.upSince : 0;
      this.up = false;
      this.watchdogProblem = undefined;
      if (this.worker === worker) this.worker = undefined;
      this.listener?.exited();
      if (this.closing) return;
      const delay = this.backoff.delay(upMs);
      this.log.error({ code, restartInMs: delay }, `stock thread exited; restarting in ${delay} ms`);
      this.restartTimer = setTimeout(() => {
        this.metrics?.workerRestarts.inc({ worker: 'stock' });
        this.start();
      }, delay);
    });
  }

  attach(listener: StockThreadListener): void {
    this.listener = listener;
  }

  /** Posts `m` to a running thread, handing over `transfer` (no copy); false when none runs. */
  post(m: StockThreadMessage, transfer: ArrayBuffer[] = []): boolean {
    if (!this.up || !this.worker) return false;
    this.worker.postMessage(m, transfer);
    return true;
  }

  /** True once the thread is up (at once if it is), false if it is not within `ms`. */
  whenUp(ms: number): Promise<boolean> {
    if (this.up) return Promise.resolve(true);
    if (this.closing) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (up: boolean) => {
        clearTimeout(timer);
        this.upWaiters.delete(wake);
        resolve(up);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), ms);
      this.upWaiters.add(wake);
    });
  }

  /** Tests: ends the running thread as a crash would (it is restarted). */
  async kill(): Promise<void> {
    await this.worker?.terminate();
  }

  /** A reload: the thread's jobs from now on use `cfg` (a restart after a death starts with it too). */
  reload(cfg: Config, logLevel: string): void {
    Object.assign(this.data, { cfg, logLevel });
    this.worker?.postMessage({ type: 'config', cfg, logLevel } satisfies StockThreadMessage);
  }

  /** For /readyz: undefined while the thread runs and its worker is healthy. */
  problem(): string | undefined {
    return this.up ? this.watchdogProblem : 'stock worker not running';
  }

  /** From now on an exit is not restarted (called first in a shutdown). */
  stopRestarting(): void {
    this.closing = true;
    clearTimeout(this.restartTimer);
  }

  async close(): Promise<void> {
    this.stopRestarting();
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((r) => worker.once('exit', () => r()));
    worker.postMessage({ type: 'close' } satisfies StockThreadMessage);
    const bound = setTimeout(() => {
      this.log.warn('stock thread did not stop in time; terminating it');
      void worker.terminate();
    }, CLOSE_BOUND_MS);
    await exited;
    clearTimeout(bound);
  }
}
