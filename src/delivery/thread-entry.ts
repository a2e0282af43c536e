// Inside the delivery thread: the mail worker with its own ledger connection, Redis connections and
// SMTP pool. Delivering in a thread of its own lets accepts (main thread) and deliveries use both
// cores, as Postfix's smtpd and smtp processes do; a crash of the process still takes both, so a
// killed relay never leaves a delivery process behind.
import { parentPort, workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { createLogger } from '../observe/logger.js';
import { ConfigHolder, deepFreeze } from '../config/holder.js';
import { openDb } from '../db/open.js';
import { LedgerStore } from '../ledger/store.js';
import { WalSync } from '../ledger/wal-sync.js';
import { closeQueue, closeRedis, createRedis } from '../queue/redis.js';
import type { MailJobData, OrderJobData } from '../queue/names.js';
import { Spool } from '../intake/spool/spool.js';
import type { Acceptor } from '../intake/accept.js';
import { AcceptedJobs } from '../intake/accepted-jobs.js';
import { MailWorker } from './mail-worker.js';
import { createTransport } from './transport.js';
import { installDataStreamFastPath } from './data-stream-fast-path.js';
import { lowerThreadPriority } from '../observe/thread-priority.js';
import { Bouncer } from './bounce.js';
import type { DeliveryThreadData, ThreadMessage } from './thread.js';

const { cfg, redis: spec, queueName, stockQueueName, logLevel, watchdog } = workerData as DeliveryThreadData;
// Jobs read the holder at their start; the main thread posts each reload (RESTART_KEYS keep what is read here once).
const holder = new ConfigHolder(cfg);
const port = parentPort!;
const log = createLogger(logLevel).child({ thread: 'delivery' });
lowerThreadPriority(); // the SMTP thread answers first when both want a core (observe/thread-priority.ts)
// Outcomes commit without fsync: losing the last ones to power loss repeats a delivery, never drops one.
const db = openDb(cfg.dataDir, 'ledger', { synchronous: 'NORMAL' });
const ledger = new LedgerStore(db);
const spool = new Spool(cfg.dataDir);
const redis = createRedis(spec, 'client');
const queue = new Queue<MailJobData>(queueName, { connection: redis, prefix: cfg.redis.prefix });
queue.on('error', () => {});
const stockQueue = new Queue<OrderJobData>(stockQueueName, { connection: redis, prefix: cfg.redis.prefix });
stockQueue.on('error', () => {});
const walSync = new WalSync(join(cfg.dataDir, 'ledger.db-wal'));
if (!installDataStreamFastPath()) log.warn('nodemailer changed: dot-stuffing runs its own (slower) per-byte loop');
const transport = createTransport(cfg.upstream, cfg.relay.hostname);
const post = (m: ThreadMessage) => port.postMessage(m);
// The SMTP thread's accepted messages: their claims confirmed and jobs added here, after their 250.
const accepted = new AcceptedJobs(
  ledger,
  queue,
  cfg.instance,
  () => holder.get(),
  log,
  stockQueue,
  () => post({ type: 'suppressed' }),
);
// DSNs are accepted here like any message: spooled, committed (and the WAL fsynced), then their jobs
// go to the same AcceptedJobs (one ForwardOnce and one set of batchers per thread, settled at close).
// The acceptor is loaded at the first DSN: its classification loads mailparser and its decoders, ~6 MB
// of this thread's heap that most runs never use.
let acceptor: Promise<Acceptor> | undefined;
const dsnAcceptor = () =>
  (acceptor ??= import('../intake/accept.js').then(
    ({ Acceptor }) => new Acceptor(holder, spool, ledger, queue, log, walSync, undefined, undefined, (m) => (accepted.add(m), true)),
  ));
const worker = new MailWorker(queue, spec, {
  get cfg() {
    return holder.get(); // process() takes it once per job
  },
  ledger,
  transport,
  log,
  durable: () => walSync.sync(),
  bouncer: new Bouncer(holder, dsnAcceptor, log),
  onOutcome: (kind, outcome) => post({ type: 'outcome', kind, outcome }),
  watchdog: { ...watchdog, onRecreated: () => post({ type: 'recreated' }), onProblem: (problem) => post({ type: 'problem', problem }) },
});
worker.start();

port.on('message', async (m: ThreadMessage) => {
  if (m.type === 'config') {
    holder.replace(deepFreeze(m.cfg)); // a structured clone: frozen again, as every config is
    log.level = m.logLevel;
  }
  if (m.type === 'accepted') accepted.add(m.message);
  if (m.type !== 'close') return;
  await accepted.settled();
  await worker.close();
  transport.close();
  await closeQueue(queue);
  await closeQueue(stockQueue);
  await closeRedis(redis);
  await walSync.close();
  db.close();
  port.close(); // nothing left to run: the thread exits, which is what the main thread waits for
});
post({ type: 'ready' });
