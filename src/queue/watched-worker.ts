// A BullMQ worker that proves it is alive, and is made anew when it stops proving it.
// Why: BullMQ #4378 (and #3088, #2964, #4479): after a Redis or Sentinel outage a worker's blocking
// connection can end for good, or its fetch loop can stop waking up. The worker still says it is
// running, raises no error and processes nothing. Here every finished poll for jobs (BZPOPMIN on the
// blocking connection) and every job start or end is a heartbeat; a worker with a free slot and no
// heartbeat for `staleMs` (or whose blocking client is in ioredis's terminal "end" state) is closed and
// replaced, once Redis itself answers again (an outage is not the worker's fault).
import { Worker, type Job, type WorkerOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../observe/logger.js';
import { withTimeout } from '../observe/timeout.js';
import { closeQueue, closeRedis, connectionOptions, createRedis, quiet, type RedisSpec } from './redis.js';

/** Idle, a worker polls every second (drainDelay 1); 30 s without one is far outside anything healthy. */
const WATCHDOG = { staleMs: 30_000, checkMs: 5_000 };
const CLOSE_BOUND_MS = 15_000;
const PING_BOUND_MS = 1_000;

/**
 * The connection handed to BullMQ. BullMQ makes its blocking client with duplicate() (its public
 * contract for an ioredis instance); ours reports each completed BZPOPMIN on that duplicate.
 */
class HeartbeatRedis extends Redis {
  readonly blocking: Redis[] = [];
  constructor(
    options: RedisOptions,
    private readonly beat: () => void,
  ) {
    super(options);
  }

  override duplicate(override?: Partial<RedisOptions>): Redis {
    const client = quiet(new Redis({ ...this.options, ...override }));
    const poll = client.bzpopmin.bind(client) as (...args: unknown[]) => Promise<unknown>;
    // Our own client object: the call goes through unchanged, its settling is the heartbeat.
    (client as unknown as { bzpopmin: typeof poll }).bzpopmin = (...args) =>
      poll(...args).then((r) => {
        this.beat();
        return r;
      });
    this.blocking.push(client);
    return client;
  }
}

export interface WatchedWorkerOptions {
  /** Names the worker in logs and in zaiko_bridge_worker_recreated_total{worker}. */
  label: string;
  log: Logger;
  staleMs?: number;
  checkMs?: number;
  /** Called after each recreation (the metric lives where the metrics registry is). */
  onRecreated?: () => void;
  /** Called when problem() changes (a thread or child reports it to the process that serves /readyz). */
  onProblem?: (problem: string | undefined) => void;
}

export class WatchedWorker<D, R> {
  private worker!: Worker<D, R>;
  private connection!: HeartbeatRedis;
  private readonly probe: Redis;
  private lastBeat = Date.now();
  /** A heartbeat came from the current worker (a recreated one is reported until it proves itself). */
  private proven = false;
  private inFlight = 0;
  private timer?: NodeJS.Timeout;
  private checking = false;
  private closing = false;
  private stale?: string;
  private suspect = false;
  recreated = 0;

  constructor(
    private readonly queueName: string,
    private readonly processor: (job: Job<D, R>) => Promise<R>,
    private readonly workerOpts: Omit<WorkerOptions, 'connection'>,
    private readonly redis: RedisSpec | string,
    private readonly o: WatchedWorkerOptions,
    /** Hooks each new Worker (event handlers). */
    private readonly setup: (worker: Worker<D, R>) => void = () => {},
  ) {
    this.probe = createRedis(redis, 'client');
  }

  start(): void {
    this.create();
    this.timer = setInterval(() => void this.check(), this.o.checkMs ?? WATCHDOG.checkMs);
  }

  /** For /readyz: why this worker is not taking jobs right now, if it is not. */
  problem(): string | undefined {
    return this.stale;
  }

  /** The blocking clients BullMQ made for the current worker (tests break them on purpose). */
  blockingClients(): Redis[] {
    return this.connection.blocking;
  }

  private create(): void {
    this.lastBeat = Date.now();
    this.proven = false;
    const beat = () => {
      this.lastBeat = Date.now();
      this.proven = true;
    };
    this.connection = new HeartbeatRedis(connectionOptions(this.redis, 'worker'), beat);
    quiet(this.connection);
    this.worker = new Worker<D, R>(
      this.queueName,
      async (job) => {
        this.inFlight++;
        beat();
        try {
          return await this.processor(job);
        } finally {
          this.inFlight--;
          beat();
        }
      },
      { ...this.workerOpts, connection: this.connection },
    );
    this.setup(this.worker);
  }

  /** Why the worker looks dead, or undefined. A worker whose every slot is busy does not poll: not stale. */
  private deadReason(): string | undefined {
    if (this.connection.blocking.some((c) => c.status === 'end')) return 'its blocking Redis connection ended';
    const concurrency = this.workerOpts.concurrency ?? 1;
    const silent = Date.now() - this.lastBeat;
    const staleMs = this.o.staleMs ?? WATCHDOG.staleMs;
    if (this.inFlight < concurrency && silent > staleMs) return `no poll for jobs in ${Math.round(silent / 1000)} s`;
    return undefined;
  }

  private async check(): Promise<void> {
    if (this.checking || this.closing) return;
    this.checking = true;
    const before = this.stale;
    try {
      const why = this.deadReason();
      if (!why) {
        this.suspect = false;
        this.stale = this.recreated && !this.proven ? `${this.o.label} worker recreated; waiting for its first poll` : undefined;
        return;
      }
      this.stale = `${this.o.label} worker not taking jobs: ${why}`;
      // Reported at once; acted on when the next check still finds it (a blip is not a dead worker).
      if (!this.suspect) {
        this.suspect = true;
        return;
      }
      // Redis down: every worker is silent and will resume with it; recreating would change nothing.
      const redisAnswers = await withTimeout(this.probe.ping(), PING_BOUND_MS, 'ping').then(
        () => true,
        () => false,
      );
      if (!redisAnswers || this.closing) return;
      this.o.log.warn({ worker: this.o.label, queue: this.queueName, why }, `${this.o.label} worker looks dead (${why}); recreating it`);
      await this.closeWorker();
      if (this.closing) return;
      this.create();
      this.suspect = false;
      this.recreated++;
      this.o.onRecreated?.();
    } finally {
      this.checking = false;
      if (this.stale !== before) this.o.onProblem?.(this.stale);
    }
  }

  /** Lets running jobs finish (a forced close would let their jobs run twice at once), bounded. */
  private async closeWorker(): Promise<void> {
    const { worker, connection } = this;
    await withTimeout(closeQueue(worker), CLOSE_BOUND_MS, 'worker close').catch(() => worker.close(true).catch(() => {}));
    // A blocking connection's BZPOPMIN would hold QUIT until its timeout; nothing else waits on it.
    // eslint-disable-next-line no-restricted-properties
    for (const c of connection.blocking) c.disconnect();
    await closeRedis(connection);
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    while (this.checking) await new Promise((r) => setTimeout(r, 20));
    await this.closeWorker();
    await closeRedis(this.probe);
  }
}
