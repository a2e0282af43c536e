// The queue commands against real Redis, with real BullMQ jobs in every state.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { tempDir, SHOP, uniqueName } from '../helpers/env.js';
import { run } from '../helpers/cli.js';

// A Redis database of its own, so "stock" here is not another test's stock queue.
const url = `${inject('redisUrl')}/5`;
const instance = uniqueName('q');
const mailName = `mail-${instance}`;
let t: ReturnType<typeof tempDir>;
let config: string;
let connection: Redis;
let queue: Queue;
let worker: Worker;

const cli = (...args: string[]) => run([...args, '--config', config]);
const json = (...args: string[]) => JSON.parse(cli(...args, '--json').stdout);

beforeAll(async () => {
  t = tempDir();
  config = join(t.dir, 'zb.yaml');
  writeFileSync(config, stringify({ dataDir: './data', instance, redis: { url }, shops: [SHOP] }));
  connection = new Redis(url, { maxRetriesPerRequest: null });
  queue = new Queue(mailName, { connection });
  // A manual worker (no processor): each job is taken and finished by hand, so no job moves on its own.
  worker = new Worker(mailName, null, { connection: new Redis(url, { maxRetriesPerRequest: null }) });
  const take = async (name: string, id: string, opts: Record<string, unknown> = {}) => {
    await queue.add(name, { qid: id.split('-')[0] }, { jobId: id, ...opts });
    return (await worker.getNextJob('test-token'))!;
  };
  await (await take('ok', 'QOK-deliver')).moveToCompleted('ok', 'test-token', false);
  await (await take('fail', 'QFAIL-deliver', { attempts: 1 })).moveToFailed(new Error('550 5.1.1 no such user'), 'test-token', false);
  await (await take('fail', 'QFAIL2-forward', { attempts: 1 })).moveToFailed(new Error('550 5.1.1 no such user'), 'test-token', false);
  await take('hold', 'QHOLD-deliver'); // stays active
  await queue.add('later', { qid: 'QLATER' }, { jobId: 'QLATER-deliver', delay: 3_600_000 });
});

afterAll(async () => {
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  t.cleanup();
});

describe('queue commands', () => {
  it('stats: every state per queue, documented shape', async () => {
    const before = Date.now();
    await queue.add('waiting', { qid: 'QWAIT' }, { jobId: 'QWAIT-deliver' });
    const { queues } = json('queue', 'stats');
    const sinceAdd = Date.now() - before;
    expect(queues.map((q: any) => q.name)).toEqual([mailName, 'stock']);
    const mail = queues[0];
    expect(Object.keys(mail)).toEqual([
      'name',
      'waiting',
      'active',
      'delayed',
      'failed',
      'completed',
      'paused',
      'oldestWaitingMs',
      'isPaused',
    ]);
    expect(mail).toMatchObject({ waiting: 1, active: 1, delayed: 1, failed: 2, completed: 1 });
    // The one waiting job's age: no older than this test's add (queue-stats.test.ts tells oldest from newest).
    expect(mail.oldestWaitingMs).toBeGreaterThanOrEqual(0);
    expect(mail.oldestWaitingMs).toBeLessThanOrEqual(sinceAdd);
    expect(cli('queue', 'stats').stdout).toMatch(/^queue\s+waiting\s+active/);
  });

  it('list and show: jobs with state, attempts and last error', () => {
    const { jobs } = json('queue', 'list', 'mail', '--state', 'failed');
    expect(jobs.map((j: any) => j.id).sort()).toEqual(['QFAIL-deliver', 'QFAIL2-forward']);
    expect(Object.keys(jobs[0])).toEqual(['id', 'name', 'state', 'attempts', 'createdAt', 'nextAttemptAt', 'lastError']);
    expect(jobs[0]).toMatchObject({ state: 'failed', attempts: 1, lastError: '550 5.1.1 no such user' });
    const delayed = json('queue', 'list', 'mail', '--state', 'delayed').jobs[0];
    expect(delayed.nextAttemptAt).not.toBeNull();
    const shown = json('queue', 'show', 'QFAIL-deliver');
    expect(shown.jobs[0]).toMatchObject({ id: 'QFAIL-deliver', state: 'failed' });
    expect(shown.record).toEqual({ message: null, recipients: [] });
  });

  it('exits 1 naming an unknown job or queue, 2 for a bad state', () => {
    const r = cli('queue', 'show', 'QNOPE-deliver');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no job QNOPE-deliver');
    expect(cli('queue', 'list', 'mail', '--state', 'sleeping').code).toBe(2);
    expect(cli('queue', 'list', 'nosuchqueue').code).toBe(1);
  });

  it('retry one, retry all failed, remove, pause and resume, clean', async () => {
    expect(cli('queue', 'retry', 'QFAIL-deliver').stdout).toBe('QFAIL-deliver retried\n');
    expect(await (await queue.getJob('QFAIL-deliver'))!.getState()).toBe('waiting');
    expect(cli('queue', 'retry', 'mail', '--all-failed').stdout).toMatch(/^1 failed job\(s\) of .* retried/);
    expect(cli('queue', 'remove', 'QLATER-deliver').code).toBe(0);
    expect(await queue.getJob('QLATER-deliver')).toBeUndefined();
    expect(cli('queue', 'pause', 'mail').stdout).toBe(`${mailName} paused\n`);
    expect(await queue.isPaused()).toBe(true);
    expect(cli('queue', 'resume', 'mail').code).toBe(0);
    expect(await queue.isPaused()).toBe(false);
    expect(cli('queue', 'clean', 'mail', '--state', 'completed', '--older-than', '0s').stdout).toBe('1 job(s) removed\n');
    expect(cli('queue', 'clean', 'mail', '--state', 'completed', '--older-than', 'soon').code).toBe(2);
  });
});
