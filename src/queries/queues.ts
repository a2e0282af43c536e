// Queue queries and actions shared by the `queue …` commands and the web console. "mail" means this
// instance's mail queue; "stock" the shared stock queue.
import type { Job, JobType, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import { BridgeError } from '../errors/codes.js';
import { mailQueueName, STOCK_QUEUE } from '../queue/names.js';
import { iso } from './time.js';
import { openDb } from '../db/open.js';
import { LedgerStore } from '../ledger/store.js';
import { UploadStore } from '../stock/store.js';

export const JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'paused', 'prioritized', 'waiting-children'] as const;
/** `queue list` without --state: every state but completed. */
const UNFINISHED_STATES: JobType[] = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'paused'];

export interface QueueSet {
  cfg: Config;
  get(name: string): Queue;
}

export function queueName(cfg: Config, q: string): string {
  if (q === 'mail') return mailQueueName(cfg.instance);
  if (q === 'stock' || q.startsWith('mail-')) return q;
  throw new BridgeError('BAD_INPUT', `unknown queue ${q}: use mail or stock`);
}

/** The queues of this instance: its mail queue and the stock queue. */
export const instanceQueues = (cfg: Config) => [mailQueueName(cfg.instance), STOCK_QUEUE];

const SCAN_LIMIT = 10_000; // SCAN rounds: a Redis of millions of keys still answers in bounded work

/**
 * Every relay's mail queue on this Redis and prefix (each relay has its own, mail-<instance>), found by
 * a key scan, then the stock queue: what `queue stats` shows when several relays share one Redis.
 */
export async function discoverQueues(cfg: Config, redis: Redis): Promise<string[]> {
  const head = `${cfg.redis.prefix}:`;
  const pattern = `${head.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}mail-*`;
  const names = new Set([mailQueueName(cfg.instance)]);
  let cursor = '0';
  for (let i = 0; i < SCAN_LIMIT; i++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    for (const key of keys) {
      const name = key.slice(head.length).split(':')[0];
      if (/^mail-[A-Za-z0-9._-]+$/.test(name)) names.add(name);
    }
    cursor = next;
    if (cursor === '0') break;
  }
  return [...[...names].sort(), STOCK_QUEUE];
}

/** A job id names its queue: apply-N is stock, anything else this instance's mail queue. */
export async function findJob(qs: QueueSet, id: string): Promise<Job> {
  const queue = qs.get(id.startsWith('apply-') ? STOCK_QUEUE : mailQueueName(qs.cfg.instance));
  // Loaded here, not at the top: the CLI registers its queue commands with JOB_STATES, and other commands need no BullMQ.
  const { Job } = await import('bullmq');
  const job = await Job.fromId(queue, id);
  if (!job) throw new BridgeError('NOT_FOUND', `no job ${id} in queue ${queue.name}`);
  return job;
}

export async function jobJson(job: Job) {
  const state = await job.getState();
  return {
    id: job.id,
    name: job.name,
    state,
    attempts: job.attemptsMade,
    createdAt: iso(job.timestamp),
    nextAttemptAt: state === 'delayed' ? iso(job.timestamp + (job.delay ?? 0)) : null,
    lastError: job.failedReason ?? null,
  };
}
export type JobJson = Awaited<ReturnType<typeof jobJson>>;

/** The oldest job still waiting: BullMQ LPUSHes, so in ascending order it is the first one. */
async function oldestWaiting(q: Queue): Promise<Job | undefined> {
  const [waiting] = await q.getJobs(['waiting'], 0, 0, true);
  const [prioritized] = await q.getJobs(['prioritized'], 0, 0, true);
  return [waiting, prioritized].filter((j): j is Job => !!j).sort((a, b) => a.timestamp - b.timestamp)[0];
}

/**
 * Finished jobs as the databases record them: mail jobs are removed from Redis when they complete and
 * stock jobs after an hour, so BullMQ's own count says little.
 */
export function finishedInDatabases(cfg: Config, queueName: string): number {
  if (queueName === STOCK_QUEUE) {
    const db = openDb(cfg.dataDir, 'stock');
    try {
      return new UploadStore(db).appliedCount();
    } finally {
      db.close();
    }
  }
  if (queueName !== mailQueueName(cfg.instance)) return 0; // another relay's: its ledger is on its host
  const db = openDb(cfg.dataDir, 'ledger');
  try {
    return new LedgerStore(db).finishedJobCount();
  } finally {
    db.close();
  }
}

/**
 * `queue stats`: per queue, jobs in each state, whether it is paused and the oldest waiting job's age.
 * `completed` is the larger of BullMQ's count and `finished(queue name)` (what the databases know).
 */
export async function queueStats(queues: Queue[], finished: (queueName: string) => number = () => 0) {
  const out = [];
  for (const q of queues) {
    const c = await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'paused', 'prioritized');
    const oldest = await oldestWaiting(q);
    out.push({
      name: q.name,
      waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
      active: c.active ?? 0,
      delayed: c.delayed ?? 0,
      failed: c.failed ?? 0,
      completed: Math.max(c.completed ?? 0, finished(q.name)),
      paused: c.paused ?? 0,
      oldestWaitingMs: oldest ? Math.max(0, Date.now() - oldest.timestamp) : null,
      isPaused: await q.isPaused(),
    });
  }
  return out;
}

/** `queue list`: jobs of a queue in `state` (default: all but completed), a page of them. */
export async function listJobs(queue: Queue, state: string | undefined, limit: number, offset = 0): Promise<JobJson[]> {
  if (state && !(JOB_STATES as readonly string[]).includes(state))
    throw new BridgeError('BAD_INPUT', `--state ${state}: use one of ${JOB_STATES.join(', ')}`);
  const types = (state ? [state] : UNFINISHED_STATES) as JobType[];
  return Promise.all((await queue.getJobs(types, offset, offset + limit - 1)).map(jobJson));
}

/** `queue retry <id>`: a failed job runs again. */
export async function retryJob(qs: QueueSet, id: string): Promise<void> {
  const job = await findJob(qs, id);
  if (!(await job.isFailed())) throw new BridgeError('BAD_INPUT', `job ${id} is ${await job.getState()}, not failed`);
  await job.retry();
}

/** `queue retry <q> --all-failed`: returns how many were failed. */
export async function retryAllFailed(queue: Queue): Promise<number> {
  const n = await queue.getJobCountByTypes('failed');
  await queue.retryJobs({ state: 'failed' });
  return n;
}

/** `queue remove <id>`: the ledger keeps the message; the sweep re-adds unfinished ones. */
export async function removeJob(qs: QueueSet, id: string): Promise<void> {
  await (await findJob(qs, id)).remove();
}
