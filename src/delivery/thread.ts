// The relay's delivery thread, seen from the main thread: start it, count its outcomes in this
// process's metrics, restart it with backoff if it dies (counted as worker="delivery"), stop it in order.
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { MailJobKind } from '../queue/names.js';
import type { RecipientStatus } from '../ledger/store.js';
import type { RedisSpec } from '../queue/redis.js';
import type { AcceptedMessage } from '../intake/accepted-jobs.js';
import { RestartBackoff } from '../observe/restart-backoff.js';

/** `logLevel`: the main thread's logger level (tests run quiet whatever the config says). */
export interface DeliveryThreadData {
  cfg: Config;
  redis: RedisSpec;
  queueName: string;
  /** Where accepted order mails' decrements go (src/intake/accepted-jobs.ts). */
  stockQueueName: string;
  logLevel: string;
  /** The mail worker watchdog's bounds (tests shorten them). */
  watchdog?: { staleMs?: number; checkMs?: number };
}
export type ThreadMessage =
  | { type: 'ready' }
  | { type: 'close' }
  | { type: 'config'; cfg: Config; logLevel: string }
  | { type: 'accepted'; message: AcceptedMessage }
  | { type: 'suppressed' }
  | { type: 'outcome'; kind: MailJobKind; outcome: RecipientStatus }
  | { type: 'recreated' }
  | { type: 'problem'; problem: string | undefined };

const CLOSE_BOUND_MS = 12_000; // a worker waits for its active jobs; SMTP timeouts are longer

/** The compiled entry: under vitest this module is TypeScript, the thread still runs the build. */
function entryPath(): string {
  const here = fileURLToPath(import.meta.url);
  const built = here.endsWith('.ts')
    ? fileURLToPath(new URL('../../dist/delivery/thread-entry.js', import.meta.url))
    : here.replace(/thread\.js$/, 'thread-entry.js');
  if (!existsSync(built)) throw new Error(`${built} is missing: run npm run build`);
  return built;
}

export class DeliveryThread {
  private worker?: Worker;
  private up = false;
  private everUp = false;
  private closing = false;
  private restartTimer?: NodeJS.Timeout;
  private workerProblem?: string;
  private upSince = 0;
  private readonly backoff = new RestartBackoff();

  constructor(
    private readonly data: DeliveryThreadData,
    private readonly log: Logger,
    private readonly metrics?: Metrics,
  ) {}

  /** Resolves once the thread's worker is running. */
  start(): Promise<void> {
    const worker = (this.worker = new Worker(entryPath(), { workerData: this.data }));
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: ThreadMessage) => {
        if (m.type === 'ready') {
          this.up = this.everUp = true;
          this.upSince = Date.now();
          resolve();
        } else if (m.type === 'outcome') this.metrics?.deliveries.inc({ kind: m.kind, outcome: m.outcome });
        else if (m.type === 'recreated') this.metrics?.workerRecreated.inc({ worker: 'mail' });
        else if (m.type === 'suppressed') this.metrics?.forwardsSuppressed.inc();
        else if (m.type === 'problem') this.workerProblem = m.problem;
      });
      worker.once('error', (err) => {
        this.log.error({ err: err.message, stack: err.stack }, 'delivery thread failed');
        reject(err);
      });
      worker.once('exit', (code) => {
        const upMs = this.up ? Date.now() - this.upSince : 0;
        this.up = false;
        this.workerProblem = undefined;
        if (this.worker === worker) this.worker = undefined;
        if (this.closing || !this.everUp) return; // a first start that failed is its caller's to report
        const delay = this.backoff.delay(upMs);
        this.log.error({ code, restartInMs: delay }, `delivery thread exited; restarting in ${delay} ms`);
        this.restartTimer = setTimeout(() => {
          this.metrics?.workerRestarts.inc({ worker: 'delivery' });
          this.start().catch(() => {});
        }, delay);
      });
    });
    return ready;
  }

  /** A reload: the thread's jobs from now on use `cfg`, its log the main thread's level (a restart after a death starts with it too). */
  reload(cfg: Config, logLevel: string): void {
    Object.assign(this.data, { cfg, logLevel });
    this.worker?.postMessage({ type: 'config', cfg, logLevel } satisfies ThreadMessage);
  }

  /**
   * A durable message's jobs, added by the thread (its Redis round trips off the SMTP thread); false
   * while the thread is down, and the caller adds them itself.
   */
  handOff(message: AcceptedMessage): boolean {
    if (!this.up || !this.worker) return false;
    this.worker.postMessage({ type: 'accepted', message } satisfies ThreadMessage);
    return true;
  }

  /** For /readyz: why mail is not being delivered right now, if it is not. */
  problem(): string | undefined {
    return this.up ? this.workerProblem : 'delivery thread not running (restarting)';
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((r) => worker.once('exit', () => r()));
    worker.postMessage({ type: 'close' } satisfies ThreadMessage);
    const bound = setTimeout(() => {
      this.log.warn('delivery thread did not stop in time; terminating it');
      void worker.terminate();
    }, CLOSE_BOUND_MS);
    await exited;
    clearTimeout(bound);
  }
}
