// What follows the 250: an order's forward-once claim confirmed in Redis, then the message's mail jobs
// added (and an order mail's stock decrement). None of it holds the answer: the ledger row committed
// before the 250 is the durable record, and the recovery sweep (at start, every minute and when Redis
// comes back) adds whatever a crash or an outage lost here. The relay runs this in its delivery thread,
// so the Redis round trips cost the SMTP thread neither time nor CPU (bench/README.md, issue 24).
import type { Queue } from 'bullmq';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';
import type { LedgerStore } from '../ledger/store.js';
import type { MailJobData, MailJobKind, OrderJobData } from '../queue/names.js';
import { MailEnqueuer } from './enqueue.js';
import { OrderEnqueuer } from './stock-decrement.js';
import { ForwardOnce } from './forward-once.js';

/** One durable message's work after its 250 (structured-cloneable: it crosses to the delivery thread). */
export interface AcceptedMessage {
  qid: string;
  /** It has recipients of its own. */
  deliver: boolean;
  /** Its forward is queued in the ledger: the claim is confirmed in Redis before the job exists. */
  forward: boolean;
  /** An order mail that lowers stock.db (shops[].decrementOnOrder). */
  order?: OrderJobData;
}

export class AcceptedJobs {
  private readonly jobs: MailEnqueuer;
  private readonly forwardOnce: ForwardOnce;
  private readonly orders?: OrderEnqueuer;
  private readonly running = new Set<Promise<void>>();

  constructor(
    ledger: LedgerStore,
    queue: Queue<MailJobData>,
    instance: string,
    cfg: () => Config,
    private readonly log: Logger,
    /** None: the sweep adds the decrements (tests of the mail side alone). */
    stockQueue?: Queue<OrderJobData>,
    /** Another relay's message already holds the order: counted where the metrics live. */
    private readonly onSuppressed?: () => void,
  ) {
    this.jobs = new MailEnqueuer(queue);
    this.forwardOnce = new ForwardOnce(ledger, queue, instance, cfg, log);
    if (stockQueue) this.orders = new OrderEnqueuer(stockQueue, log);
  }

  /** Fire and forget: what fails is logged and left to the sweep. */
  add(m: AcceptedMessage): void {
    const run = this.run(m).catch((err: Error) =>
      this.log.warn({ qid: m.qid, err: err.message }, `${m.qid}: jobs not added (${err.message}); the recovery sweep will enqueue them`),
    );
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  /** Resolves once every add begun so far has ended (before the queues close). */
  async settled(): Promise<void> {
    await Promise.all(this.running);
  }

  private async run(m: AcceptedMessage): Promise<void> {
    if (m.order) this.orders?.add(m.order);
    const kinds: MailJobKind[] = m.deliver ? ['deliver'] : [];
    if (m.forward) {
      const verdict = await this.forwardOnce.confirm(m.qid);
      if (verdict === 'ours') kinds.push('forward');
      else if (verdict === 'other') this.onSuppressed?.();
    }
    if (!(await this.jobs.add(m.qid, kinds)))
      this.log.warn({ qid: m.qid }, 'jobs not added (Redis slow or down); the recovery sweep will enqueue them');
  }
}
