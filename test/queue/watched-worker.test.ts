// No silently dead worker (BullMQ #4378): a worker whose blocking connection is left in ioredis's
// terminal "end" state, unable to reconnect, processes nothing while it says it is running. The
// watchdog reports it on /readyz, counts it, and makes a new worker that takes the next job.
import { describe, it, expect, afterEach, inject } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Redis as RedisClient } from 'ioredis';
import { startWorker } from '../../src/roles/worker.js';
import { startReceiver } from '../../src/roles/receiver.js';
import { MailWorker } from '../../src/delivery/mail-worker.js';
import { openDb } from '../../src/db/open.js';
import { LedgerStore } from '../../src/ledger/store.js';
import { createTransport } from '../../src/delivery/transport.js';
import { Metrics } from '../../src/observe/metrics.js';
import { UploadStore } from '../../src/stock/store.js';
import { tempDir, testConfig, uniqueName, log } from '../helpers/env.js';
import { post, send, form, auth, items } from '../helpers/http.js';
import { until } from '../helpers/net.js';

const redisUrl = inject('redisUrl');
const FAST = { staleMs: 1500, checkMs: 300 };
let t: ReturnType<typeof tempDir>;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  t?.cleanup();
});

/** What #4378 leaves behind: the blocking client ended, and every attempt to reconnect it fails. */
function killForGood(clients: RedisClient[]): void {
  for (const c of clients) {
    c.connect = () => Promise.reject(new Error('simulated #4378: this client never reconnects'));
    c.disconnect();
  }
}

describe('worker watchdog', () => {
  it('stock worker: a dead blocking connection is reported on /readyz, counted, and the worker recreated', async () => {
    t = tempDir();
    const queueName = uniqueName('stock');
    const cfg = testConfig(t.dir);
    const metrics = new Metrics();
    const problems: (string | undefined)[] = [];
    const worker = await startWorker(cfg, redisUrl, log, {
      queueName,
      watchdog: { ...FAST, onRecreated: () => metrics.workerRecreated.inc({ worker: 'stock' }), onProblem: (p) => problems.push(p) },
    });
    cleanups.push(() => worker.close());
    const watched = worker.worker.watched!;
    const receiver = await startReceiver(cfg, redisUrl, log, { queueName, metrics, readyChecks: [() => watched.problem()] });
    cleanups.push(() => receiver.close());
    const upload = (code: string) => post(receiver.port!, '/api/zaikorobot.php', form([...auth, ...items([[code, '1']])]));
    expect((await upload('P1')).text).toMatch(/^(OK|NG)/); // applied: the worker runs
    expect((await send(receiver.port!, 'GET', '/readyz')).status).toBe(200);

    const before = watched.blockingClients().slice();
    killForGood(before);
    const readyz = await until(
      async () => {
        const r = await send(receiver.port!, 'GET', '/readyz');
        return r.status === 503 && r.text;
      },
      10_000,
      '/readyz to report the dead worker',
    );
    expect(readyz).toBe('not ready\n'); // what is wrong goes to the log, not to whoever asks

    // An upload after the break is applied by the new worker.
    expect((await upload('P2')).status).toBe(200);
    const store = new UploadStore(openDb(cfg.dataDir, 'stock'));
    await until(() => store.get(2)?.status === 'applied', 15_000, 'upload 2 applied');
    const recreatedMetric = () => metrics.registry.getSingleMetricAsString('zaiko_bridge_worker_recreated_total');
    await until(async () => (await recreatedMetric()).includes('worker="stock"} 1'), 10_000, 'metric');
    expect(watched.blockingClients().some((c) => before.includes(c))).toBe(false);
    await until(async () => (await send(receiver.port!, 'GET', '/readyz')).status === 200, 10_000, '/readyz ready again');
    // Whichever the check sees first: the ended client, or the silence it causes.
    expect(problems[0]).toMatch(/^stock worker not taking jobs: (its blocking Redis connection ended|no poll for jobs in \d+ s)$/);
    expect(problems.at(-1)).toBeUndefined();
    expect(await recreatedMetric()).toContain('worker="mail"} 0');
  });

  it('mail worker: recreated after its blocking connection dies; the next job is processed', async () => {
    t = tempDir();
    const cfg = testConfig(t.dir);
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    cleanups.push(() => connection.disconnect());
    const queue = new Queue(uniqueName('mail'), { connection, prefix: cfg.redis.prefix });
    cleanups.push(() => queue.close());
    const db = openDb(cfg.dataDir, 'ledger');
    cleanups.push(() => db.close());
    let recreated = 0;
    const transport = createTransport(cfg.upstream, 'relay.test');
    cleanups.push(() => transport.close());
    const mail = new MailWorker(queue, redisUrl, {
      cfg,
      ledger: new LedgerStore(db),
      transport,
      log,
      durable: () => Promise.resolve(), // no spool file is removed here: only unknown messages
      watchdog: { ...FAST, onRecreated: () => recreated++ },
    });
    mail.start();
    cleanups.push(() => mail.close());
    // A job for a message the ledger does not have completes at once ("unknown message"): enough to see the worker take it.
    const finished = async (id: string) => (await queue.getJobState(id)) === 'completed' || (await queue.getJob(id)) === undefined;
    await queue.add('deliver', { qid: 'Q1', kind: 'deliver' }, { jobId: 'Q1-deliver' });
    await until(() => finished('Q1-deliver'), 10_000, 'first job');

    killForGood(mail.watched!.blockingClients().slice());
    await until(() => mail.watched!.problem(), 5_000, 'problem reported');
    await queue.add('deliver', { qid: 'Q2', kind: 'deliver' }, { jobId: 'Q2-deliver' });
    await until(() => finished('Q2-deliver'), 15_000, 'job after the break');
    expect(recreated).toBe(1);
    await until(() => mail.watched!.problem() === undefined, 5_000, 'recovered');
  });

  it('an idle worker keeps polling: never taken for dead', async () => {
    t = tempDir();
    const queueName = uniqueName('stock');
    let recreated = 0;
    const watchdog = { ...FAST, onRecreated: () => recreated++ };
    const worker = await startWorker(testConfig(t.dir), redisUrl, log, { queueName, watchdog });
    cleanups.push(() => worker.close());
    await new Promise((r) => setTimeout(r, FAST.staleMs * 3));
    expect(worker.worker.watched!.problem()).toBeUndefined();
    expect(recreated).toBe(0);
  });
});
