// `queue stats|list|show|retry|remove|pause|resume|clean`: BullMQ's queues as postqueue/postsuper
// show them. "mail" means this instance's mail queue; "stock" the shared stock queue.
import type { Command } from 'commander';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import { formatAge } from '../config/units.js';
import { openDb } from '../db/open.js';
import { LedgerStore } from '../ledger/store.js';
import { UploadStore } from '../stock/store.js';
import {
  JOB_STATES,
  queueName,
  instanceQueues,
  discoverQueues,
  findJob,
  jobJson,
  queueStats,
  finishedInDatabases,
  listJobs,
  retryJob,
  retryAllFailed,
  removeJob,
} from '../queries/queues.js';
import { context, connectCli, printJson, printTable, pageOptions, morePages } from './context.js';
import { oneOf, age } from './options.js';

type Queues = { cfg: Config; get(name: string): Queue; all: Queue[]; connection: Redis };
async function withQueues<T>(cmd: Command, work: (qs: Queues) => Promise<T>): Promise<T> {
  const { config } = context(cmd);
  // BullMQ is loaded by the queue commands only, not by every command (mail list, stock show...).
  const [{ Queue }, { closeQueue, closeRedis }] = await Promise.all([import('bullmq'), import('../queue/redis.js')]);
  const connection: Redis = await connectCli(config);
  const cache = new Map<string, Queue>();
  const get = (name: string) => {
    if (!cache.has(name)) cache.set(name, new Queue(name, { connection, prefix: config.redis.prefix }));
    return cache.get(name)!;
  };
  try {
    return await work({ cfg: config, get, all: instanceQueues(config).map(get), connection });
  } finally {
    for (const q of cache.values()) await closeQueue(q);
    await closeRedis(connection);
  }
}

export function registerQueue(program: Command): void {
  const queue = program.command('queue').description('inspect and act on the job queues (needs Redis)');

  queue
    .command('stats')
    .description('per queue: jobs in each state, oldest waiting age')
    .option('--json', 'JSON output')
    .action(async (o: { json?: boolean }, cmd: Command) =>
      withQueues(cmd, async ({ cfg, get, connection }) => {
        // Every relay's mail queue on this Redis, not only this instance's.
        const all = (await discoverQueues(cfg, connection)).map(get);
        const queues = await queueStats(all, (name) => finishedInDatabases(cfg, name));
        if (o.json) return printJson({ queues });
        printTable(
          ['queue', 'waiting', 'active', 'delayed', 'failed', 'completed', 'paused', 'oldest'],
          queues.map((q) => [
            q.isPaused ? `${q.name} (PAUSED: queue resume)` : q.name,
            q.waiting,
            q.active,
            q.delayed,
            q.failed,
            q.completed,
            q.paused,
            q.oldestWaitingMs === null ? '-' : formatAge(q.oldestWaitingMs),
          ]),
          'no queues',
        );
      }),
    );

  pageOptions(queue.command('list').description('jobs of a queue').argument('<queue>', 'mail or stock'), 50)
    .option('--state <state>', `one of ${JOB_STATES.join(', ')} (default: all but completed)`, oneOf('--state', JOB_STATES))
    .option('--json', 'JSON output')
    .action(async (q: string, o: { state?: string; limit: number; offset: number; json?: boolean }, cmd: Command) =>
      withQueues(cmd, async (qs) => {
        const jobs = await listJobs(qs.get(queueName(qs.cfg, q)), o.state, o.limit, o.offset);
        if (o.json) return printJson({ jobs });
        printTable(
          ['id', 'name', 'state', 'age', 'attempts', 'next', 'last error'],
          jobs.map((j) => [
            j.id,
            j.name,
            j.state,
            formatAge(Date.now() - Date.parse(j.createdAt!)),
            j.attempts,
            j.nextAttemptAt,
            j.lastError,
          ]),
          'no jobs',
        );
        morePages(jobs.length, o);
      }),
    );

  queue
    .command('show')
    .description('one job, with the ledger or upload row it points to')
    .argument('<jobId>')
    .option('--json', 'JSON output')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) =>
      withQueues(cmd, async (qs) => {
        const job = await findJob(qs, id);
        const base = { ...(await jobJson(job)), data: job.data, stacktrace: job.stacktrace };
        let record: unknown = null;
        if (job.data.qid) {
          const db = openDb(qs.cfg.dataDir, 'ledger');
          const l = new LedgerStore(db);
          record = { message: l.message(job.data.qid) ?? null, recipients: l.recipients(job.data.qid) };
          db.close();
        }
        if (job.data.uploadId) {
          const db = openDb(qs.cfg.dataDir, 'stock');
          record = { upload: new UploadStore(db).get(job.data.uploadId) ?? null };
          db.close();
        }
        const view = { jobs: [base], record };
        if (o.json) return printJson(view);
        process.stdout.write(JSON.stringify(view, null, 2) + '\n');
      }),
    );

  queue
    .command('retry')
    .description('retry failed jobs by id, or every failed job of a queue with --all-failed')
    .argument('<ids...>', 'job ids, or a queue name with --all-failed')
    .option('--all-failed', 'retry every failed job of the named queue')
    .action(async (ids: string[], o: { allFailed?: boolean }, cmd: Command) =>
      withQueues(cmd, async (qs) => {
        if (o.allFailed) {
          const q = qs.get(queueName(qs.cfg, ids[0]));
          const n = await retryAllFailed(q);
          process.stdout.write(`${n} failed job(s) of ${q.name} retried\n`);
          return;
        }
        for (const id of ids) {
          await retryJob(qs, id);
          process.stdout.write(`${id} retried\n`);
        }
      }),
    );

  queue
    .command('remove')
    .description('remove jobs (the ledger keeps the message; the sweep re-adds unfinished ones)')
    .argument('<ids...>')
    .action(async (ids: string[], _o, cmd: Command) =>
      withQueues(cmd, async (qs) => {
        for (const id of ids) {
          await removeJob(qs, id);
          process.stdout.write(`${id} removed\n`);
        }
      }),
    );

  for (const action of ['pause', 'resume'] as const) {
    queue
      .command(action)
      .description(`${action} a queue`)
      .argument('<queue>', 'mail or stock')
      .action(async (q: string, _o, cmd: Command) =>
        withQueues(cmd, async (qs) => {
          const queueObj = qs.get(queueName(qs.cfg, q));
          await queueObj[action]();
          process.stdout.write(`${queueObj.name} ${action === 'pause' ? 'paused' : 'resumed'}\n`);
        }),
      );
  }

  queue
    .command('clean')
    .description('delete finished jobs older than an age')
    .argument('<queue>', 'mail or stock')
    .requiredOption('--state <state>', 'completed or failed', oneOf('--state', ['completed', 'failed'] as const))
    .requiredOption('--older-than <age>', 'e.g. 7d', age('--older-than'))
    .action(async (q: string, o: { state: 'completed' | 'failed'; olderThan: number }, cmd: Command) =>
      withQueues(cmd, async (qs) => {
        const removed = await qs.get(queueName(qs.cfg, q)).clean(o.olderThan, 100_000, o.state);
        process.stdout.write(`${removed.length} job(s) removed\n`);
      }),
    );
}
