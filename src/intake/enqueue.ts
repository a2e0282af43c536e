// Adding mail jobs with ids derived from the queue id (adding twice is a no-op), bounded in time:
// the message is durable before this runs, so a slow or dead Redis only delays it to the sweep.
import type { Queue, JobsOptions } from 'bullmq';
import { mailJobId, MAIL_KEEP_FINISHED, type MailJobData, type MailJobKind } from '../queue/names.js';
import { withTimeout } from '../observe/timeout.js';
import { queueConnected } from '../queue/redis.js';

const MAIL_ADD_BOUND_MS = 1000;
const MAX_ATTEMPTS = 1_000_000; // delivery.maxLifetime, not a count, ends the retries

const mailJobOptions = (jobId: string): JobsOptions => ({
  jobId,
  attempts: MAX_ATTEMPTS,
  backoff: { type: 'mail' },
  ...MAIL_KEEP_FINISHED,
});

export interface MailJobs {
  qid: string;
  kinds: MailJobKind[];
}

/** Adds the jobs of several messages in one round trip; false when Redis did not confirm in time. */
async function enqueueMails(
  queue: Queue<MailJobData>,
  messages: MailJobs[],
  boundMs = MAIL_ADD_BOUND_MS,
  jobId = mailJobId,
): Promise<boolean> {
  const jobs = messages.flatMap(({ qid, kinds }) =>
    kinds.map((kind) => ({ name: kind, data: { qid, kind }, opts: mailJobOptions(jobId(qid, kind)) })),
  );
  if (jobs.length === 0) return true;
  if (!queueConnected(queue)) return false; // Redis is down: the recovery sweep adds them later
  return withTimeout(queue.addBulk(jobs), boundMs, 'add mail jobs').then(
    () => true,
    () => false,
  );
}

export function enqueueMail(
  queue: Queue<MailJobData>,
  qid: string,
  kinds: MailJobKind[],
  boundMs = MAIL_ADD_BOUND_MS,
  jobId = mailJobId,
): Promise<boolean> {
  return enqueueMails(queue, [{ qid, kinds }], boundMs, jobId);
}

/**
 * The accept path's adds: messages that became durable together (one group commit) reach Redis in
 * one addBulk instead of one round trip each.
 */
export class MailEnqueuer {
  private batch: (MailJobs & { done(ok: boolean): void })[] = [];

  constructor(private readonly queue: Queue<MailJobData>) {}

  add(qid: string, kinds: MailJobKind[]): Promise<boolean> {
    return new Promise((done) => {
      this.batch.push({ qid, kinds, done });
      if (this.batch.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.batch;
    this.batch = [];
    void enqueueMails(this.queue, batch).then((ok) => {
      for (const b of batch) b.done(ok);
    });
  }
}
