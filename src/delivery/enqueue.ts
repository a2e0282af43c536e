// Adding mail jobs with ids derived from the queue id (adding twice is a no-op), bounded in time:
// the message is durable before this runs, so a slow or dead Redis only delays it to the sweep.
import type { Queue, JobsOptions } from 'bullmq';
import { mailJobId, KEEP_FINISHED, type MailJobData, type MailJobKind } from '../queue/names.js';
import { withTimeout } from '../observe/timeout.js';
import { queueConnected } from '../queue/redis.js';

export const MAIL_ADD_BOUND_MS = 1000;
const MAX_ATTEMPTS = 1_000_000; // delivery.maxLifetime, not a count, ends the retries

export const mailJobOptions = (jobId: string): JobsOptions => ({ jobId, attempts: MAX_ATTEMPTS, backoff: { type: 'mail' }, ...KEEP_FINISHED });

export async function enqueueMail(queue: Queue<MailJobData>, qid: string, kinds: MailJobKind[], boundMs = MAIL_ADD_BOUND_MS, jobId = mailJobId): Promise<boolean> {
  if (kinds.length === 0) return true;
  if (!queueConnected(queue)) return false; // Redis is down: the recovery sweep adds them later
  const add = queue.addBulk(kinds.map((kind) => ({ name: kind, data: { qid, kind }, opts: mailJobOptions(jobId(qid, kind)) })));
  return withTimeout(add, boundMs, 'add mail jobs').then(() => true, () => false);
}
