// Adding an apply job, bounded in time: the upload is already durable in stock.db, so with Redis down
// we answer anyway and the sweep (worker start, every minute) enqueues it later.
import type { Queue } from 'bullmq';
import { applyJobId, KEEP_FINISHED, type ApplyJobData } from '../../queue/names.js';
import type { UploadStore } from '../store.js';
import { withTimeout } from '../../observe/timeout.js';
import { queueConnected } from '../../queue/redis.js';

const ENQUEUE_BOUND_MS = 1000;

export async function enqueueApply(queue: Queue<ApplyJobData>, uploadId: number, boundMs = ENQUEUE_BOUND_MS): Promise<boolean> {
  if (!queueConnected(queue)) return false; // Redis is down: the sweep adds it later
  const add = queue.add(
    'apply',
    { uploadId },
    { jobId: applyJobId(uploadId), attempts: 10, backoff: { type: 'exponential', delay: 1000 }, ...KEEP_FINISHED },
  );
  return withTimeout(add, boundMs, 'add apply job').then(
    () => true,
    () => false,
  );
}

/** Polls stock.db (the truth, whichever process applies) until the upload is applied or time runs out. */
export async function waitApplied(store: UploadStore, uploadId: number, timeoutMs: number, pollMs = 10): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (store.get(uploadId)?.status === 'applied') return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(1, until - Date.now()))));
  }
}
