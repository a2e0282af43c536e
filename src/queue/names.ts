// Queue names and job ids. BullMQ refuses ':' and all-digit ids, so every id carries a word.
export const STOCK_QUEUE = 'stock';
export const mailQueueName = (instance: string) => `mail-${instance}`;

export type MailJobKind = 'deliver' | 'forward';
export const mailJobId = (qid: string, kind: MailJobKind) => `${qid}-${kind}`;
export const applyJobId = (uploadId: number) => `apply-${uploadId}`;
/** One decrement job per accepted order mail (the stock worker applies it once per shop and order key). */
export const orderJobId = (qid: string) => `order-${qid}`;

export interface MailJobData {
  qid: string;
  kind: MailJobKind;
}
export interface ApplyJobData {
  uploadId: number;
}
/**
 * An order mail's items, as classified at accept, for the stock worker to lower stock.db with: plain
 * data, so stock/ needs nothing from intake/ or the ledger. `key` is what makes it once per order:
 * the order number, else `message-id:<Message-ID>`, else `qid:<qid>`. `acceptedAt` (ms) is the mail's
 * receipt, compared with uploads' receipt to apply both in the order received.
 */
export interface OrderJobData {
  shop: string;
  key: string;
  orderNumber: string | null;
  qid: string;
  acceptedAt: number;
  items: { code: string; quantity: number }[];
}
/** The stock queue's jobs: `apply` (an upload) and `order` (an order mail's decrement). */
export type StockJobData = ApplyJobData | OrderJobData;

/** Finished jobs are dropped from Redis: the ledger and stock.db are the long-term record. */
export const KEEP_FINISHED = { removeOnComplete: { age: 3600, count: 1000 }, removeOnFail: { age: 7 * 86400 } };
/**
 * Mail jobs go from Redis the moment they complete (as a delivered message leaves Postfix's queue):
 * the ledger has every outcome, and trimming a kept set of completed jobs cost Redis ~20 % more CPU
 * per message at full load. Failed ones stay a week for `queue list`.
 */
export const MAIL_KEEP_FINISHED = { removeOnComplete: true, removeOnFail: { age: 7 * 86400 } };

/**
 * Worker lock settings: a job whose process died (SIGKILL, power) is back in "wait" within about
 * LOCK_MS + STALLED_CHECK_MS; a live worker renews its lock every LOCK_MS / 2. Jobs are idempotent,
 * so a long synchronous apply outliving its lock only means it may run once more, changing nothing.
 */
export const WORKER_LOCKS = { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 1000 };
