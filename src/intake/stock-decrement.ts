// An accepted order mail's decrement, handed to the stock queue: added right after the accept commit
// (bounded, never holding the 250), and by the recovery sweep from the ledger's pending marks, so a
// decrement lost to a Redis outage is only late. The stock worker applies it once per order key.
import type { Queue } from 'bullmq';
import type { LedgerStore, PendingStockRow } from '../ledger/store.js';
import type { Logger } from '../observe/logger.js';
import { KEEP_FINISHED, orderJobId, type OrderJobData } from '../queue/names.js';
import { withTimeout } from '../observe/timeout.js';
import { queueConnected } from '../queue/redis.js';
import type { OrderItem } from './classify/classify.js';

const ADD_BOUND_MS = 1000;

/** What the stock worker needs of an order mail; the key makes it once per (shop, order). */
export function orderJob(m: {
  qid: string;
  shop: string;
  orderNumber: string | null;
  messageId: string | null;
  acceptedAt: number;
  items: OrderItem[];
}): OrderJobData {
  const key = m.orderNumber ?? (m.messageId ? `message-id:${m.messageId}` : `qid:${m.qid}`);
  return { shop: m.shop, key, orderNumber: m.orderNumber, qid: m.qid, acceptedAt: m.acceptedAt, items: m.items };
}

const fromLedger = (r: PendingStockRow): OrderJobData =>
  orderJob({
    qid: r.id,
    shop: r.shop_id!,
    orderNumber: r.order_number,
    messageId: r.message_id,
    acceptedAt: r.received_at,
    items: JSON.parse(r.items) as OrderItem[],
  });

/** Adds decrement jobs in one round trip (an existing job id is a no-op); false if Redis did not confirm in time. */
async function enqueueOrders(queue: Queue<OrderJobData>, jobs: OrderJobData[], boundMs = ADD_BOUND_MS): Promise<boolean> {
  if (jobs.length === 0) return true;
  if (!queueConnected(queue)) return false;
  const adds = jobs.map((data) => ({
    name: 'order',
    data,
    opts: { jobId: orderJobId(data.qid), attempts: 10, backoff: { type: 'exponential', delay: 1000 }, ...KEEP_FINISHED },
  }));
  return withTimeout(queue.addBulk(adds), boundMs, 'add order jobs').then(
    () => true,
    () => false,
  );
}

/**
 * The sweep: every ledger order mail still marked pending is added (again) and, once Redis confirmed,
 * marked queued. Adding one the accept path already added is harmless: the id exists in Redis, or the
 * worker finds the order applied. Returns how many were confirmed.
 */
export async function recoverOrders(queue: Queue<OrderJobData>, ledger: LedgerStore, log: Logger): Promise<number> {
  let confirmed = 0;
  for (;;) {
    const rows = ledger.pendingStockJobs(500);
    if (rows.length === 0) break;
    if (!(await enqueueOrders(queue, rows.map(fromLedger), 5000))) {
      log.warn({ pending: rows.length }, 'order decrements not added (Redis down?); the sweep tries again');
      break;
    }
    ledger.markStockJobsQueued(rows.map((r) => r.id));
    confirmed += rows.length;
  }
  if (confirmed) log.info({ count: confirmed }, 'recovery sweep handed order decrements to the stock queue');
  return confirmed;
}

/**
 * The accept path's adds, fire and forget: the 250 never waits for them (the ledger's pending mark is
 * the durable record). Mails that became durable together go to Redis in one addBulk.
 */
export class OrderEnqueuer {
  private batch: OrderJobData[] = [];

  constructor(
    private readonly queue: Queue<OrderJobData>,
    private readonly log: Logger,
  ) {}

  add(job: OrderJobData): void {
    this.batch.push(job);
    if (this.batch.length === 1) setImmediate(() => this.flush());
  }

  private flush(): void {
    const batch = this.batch;
    this.batch = [];
    void enqueueOrders(this.queue, batch).then((ok) => {
      if (!ok) this.log.warn({ qids: batch.map((j) => j.qid) }, 'order decrements not added (Redis slow or down); the sweep adds them');
    });
  }
}
