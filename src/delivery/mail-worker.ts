// Deliver and forward jobs: send the spooled bytes to the recipients still pending, record each
// outcome the moment the upstream answers, retry the deferred ones with backoff until maxLifetime.
import type { Queue, Job } from 'bullmq';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';
import type { LedgerStore, Outcome, RecipientStatus } from '../ledger/store.js';
import { openMessage, type StoredMessage } from '../intake/spool/stored-message.js';
import type { RedisSpec } from '../queue/redis.js';
import { WatchedWorker, type WatchedWorkerOptions } from '../queue/watched-worker.js';
import { WORKER_LOCKS, type MailJobData, type MailJobKind } from '../queue/names.js';
import { classifyFailure, backoffDelay } from './classify-failure.js';
import type { DeliveryTransport } from './transport.js';
import type { Bouncer } from './bounce.js';
import { ForwardOnce } from '../intake/forward-once.js';

class DeferredError extends Error {}

export interface MailWorkerDeps {
  cfg: Config;
  ledger: LedgerStore;
  transport: DeliveryTransport;
  log: Logger;
  bouncer?: Bouncer;
  now?: () => number;
  /** Makes the ledger's commits so far durable (a WAL fsync): the mark that a spool file is final must be, before it is unlinked. */
  durable: () => Promise<void>;
  /** Called once per recipient attempt (the metrics live in the main thread). */
  onOutcome?: (kind: MailJobKind, outcome: RecipientStatus) => void;
  /** The watchdog's reports (recreations, readiness) and, for tests, its bounds. */
  watchdog?: Partial<Pick<WatchedWorkerOptions, 'onRecreated' | 'onProblem' | 'staleMs' | 'checkMs'>>;
}

export class MailWorker {
  private worker?: WatchedWorker<MailJobData, string>;
  private readonly forwardOnce: ForwardOnce;
  constructor(
    private readonly queue: Queue<MailJobData>,
    private readonly redis: RedisSpec | string,
    private readonly d: MailWorkerDeps,
  ) {
    this.forwardOnce = new ForwardOnce(d.ledger, queue, d.cfg.instance, () => this.d.cfg, d.log);
  }

  start(): void {
    const { initial, max } = this.d.cfg.delivery.backoff;
    this.worker = new WatchedWorker<MailJobData, string>(
      this.queue.name,
      (job) => this.process(job),
      {
        prefix: this.d.cfg.redis.prefix,
        concurrency: this.d.cfg.delivery.concurrency,
        ...WORKER_LOCKS,
        // Idle, the worker long-polls Redis this many seconds; close() waits out the poll (5 s by default).
        drainDelay: 1,
        settings: { backoffStrategy: (attemptsMade: number) => backoffDelay(attemptsMade, initial, max) },
      },
      this.redis,
      { label: 'mail', log: this.d.log, ...this.d.watchdog },
      (w) => {
        w.on('error', (err) => this.d.log.warn({ err: err.message }, 'mail worker connection error'));
      },
    );
    this.worker.start();
  }

  /** The watched worker (for /readyz and tests). */
  get watched(): WatchedWorker<MailJobData, string> | undefined {
    return this.worker;
  }

  async process(job: Job<MailJobData>): Promise<string> {
    const { qid, kind } = job.data;
    const { ledger, log, cfg } = this.d;
    const now = this.d.now ?? Date.now;
    const found = ledger.delivery(qid, kind);
    if (!found) {
      log.warn({ qid, kind }, 'job for a message the ledger does not have; dropped');
      return 'unknown message';
    }
    const { msg, pending } = found;
    if (pending.length === 0) return 'nothing pending';
    if (kind === 'forward') {
      // Never a forward whose claim Redis has not confirmed: another relay may hold the order.
      const verdict = await this.forwardOnce.confirm(qid);
      if (verdict === 'other') return 'forward suppressed: another relay holds the claim';
      if (verdict === 'unknown') throw new DeferredError('forward held: its forward-once claim could not be asked in Redis');
    }
    const expired = now() - msg.received_at >= cfg.delivery.maxLifetime;
    const shop = cfg.shops.find((s) => s.id === msg.shop_id);
    const from = kind === 'forward' ? (shop?.forwardEnvelopeFrom ?? msg.mail_from) : msg.mail_from;
    const tag = `${qid}-${kind}-${job.attemptsMade + 1}`;
    let results;
    let message: StoredMessage | undefined;
    try {
      message = openMessage(ledger, qid);
      if (!message) throw new Error(`${qid}: spooled message not found`);
      results = await this.d.transport.send({ from, to: pending }, message, tag);
    } catch (err) {
      const e = err as Error & { responseCode?: number; response?: string };
      results = pending.map((address) => ({ address, ok: false, responseCode: e.responseCode, response: e.response ?? e.message }));
    }
    const deferred: string[] = [];
    const failed: { address: string; response: string }[] = [];
    const outcomes: Outcome[] = results.map((r) => {
      if (r.ok) return { address: r.address, status: 'sent', response: r.response };
      if (classifyFailure(r) === 'permanent' || expired) {
        const why =
          expired && classifyFailure(r) !== 'permanent'
            ? `gave up after ${Math.round(cfg.delivery.maxLifetime / 3_600_000)}h: ${r.response}`
            : r.response;
        failed.push({ address: r.address, response: why });
        return { address: r.address, status: 'failed', response: why };
      }
      deferred.push(r.address);
      return {
        address: r.address,
        status: 'deferred',
        response: r.response,
        nextAttemptAt: now() + backoffDelay(job.attemptsMade + 1, cfg.delivery.backoff.initial, cfg.delivery.backoff.max),
      };
    });
    const removeSpool = cfg.spool.keepDays === 0;
    const summary = ledger.record(qid, kind, outcomes, { removeSpool });
    if (summary.releasedClaim) {
      const claim = summary.releasedClaim;
      log.warn({ qid, claim }, `${qid}: forward failed for good; claim ${claim} released for a later mail of the order`);
      if (msg.shop_id) await this.forwardOnce.release(qid, msg.shop_id, claim);
    }
    for (const o of outcomes) {
      this.d.onOutcome?.(kind, o.status);
      const status = o.status === 'failed' ? 'bounced' : o.status;
      log[o.status === 'failed' ? 'warn' : 'info'](
        { qid, kind, to: o.address, relay: this.d.transport.name, status, response: o.response },
        `${qid}: to=<${o.address}> status=${status}`,
      );
    }
    if (failed.length && this.d.bouncer && kind === 'deliver') await this.d.bouncer.bounce(msg, failed, message);
    if (summary.final) {
      // Every job of the message is final: one summary line; the spooled message goes unless kept
      // (after the bounce above, which quotes the original headers from it).
      log.info({ qid, sent: summary.sent, failed: summary.failed }, `${qid}: done sent=${summary.sent} failed=${summary.failed}`);
      // The outcome committed without fsync: after a power cut a file must not be gone while its row is
      // not final (a body kept in the ledger went with the mark: nothing to wait for).
      if (removeSpool) await message?.removeAfterMark(this.d.durable);
    }
    if (deferred.length) throw new DeferredError(`${deferred.length} recipient(s) deferred: ${results.find((r) => !r.ok)?.response}`);
    return `${kind}: ${results.filter((r) => r.ok).length} sent, ${failed.length} failed`;
  }

  async close(): Promise<void> {
    await this.worker?.close();
  }
}
