// `start`: every role in one process tree. The private Redis (when redis.url is empty) and the stock
// worker are children; the relay and the receiver run here. Stop order: listeners, worker, Redis.
import type { Config } from '../config/schema.js';
import { ConfigHolder } from '../config/holder.js';
import type { Logger } from '../observe/logger.js';
import { DataDirLock } from './data-dir-lock.js';
import { EmbeddedRedis } from '../queue/embedded-redis.js';
import { connectOrFail, checkEvictionPolicy, closeRedis, redisSpec, type RedisSpec } from '../queue/redis.js';
import { startReceiver, type RunningRole } from './receiver.js';
import { startRelay } from './relay.js';
import { Metrics } from '../observe/metrics.js';
import { SupervisedProcess } from './supervise.js';
import { STOCK_WORKER_NODE_FLAGS } from './node-flags.js';

/** What the forked stock worker tells `start` (its watchdog's findings). */
export type WorkerReport = { type: 'worker-recreated' } | { type: 'worker-problem'; problem: string | undefined };

export async function startAll(config: Config | ConfigHolder, configPath: string, log: Logger): Promise<RunningRole> {
  const holder = ConfigHolder.of(config);
  const cfg = holder.get(); // what is read once at start (RESTART_KEYS); the roles read the holder
  // Every part before anything is touched. The worker part is only checked: the forked worker takes it.
  const lock = DataDirLock.take(cfg.dataDir, ['relay', 'receiver', 'worker', 'redis']);
  // A private Redis only when none is configured: not with redis.url, not with redis.sentinels.
  const embedded = cfg.redis.url || cfg.redis.sentinels.length ? undefined : new EmbeddedRedis(cfg.dataDir, log);
  const roles: RunningRole[] = [];
  let checkConfig: RunningRole['checkConfig'];
  const metrics = new Metrics(); // one registry: the receiver's /metrics shows the relay's and the worker's too
  let worker: SupervisedProcess | undefined;
  const close = async () => {
    worker?.stopRestarting();
    for (const r of roles.reverse()) await r.close().catch((err) => log.error({ err: (err as Error).message }, 'stop failed'));
    await worker?.close();
    await embedded?.stop();
    lock.release();
  };
  try {
    const spec: RedisSpec = embedded ? { url: await embedded.start() } : redisSpec(cfg);
    const probe = await connectOrFail(spec);
    await checkEvictionPolicy(probe, log);
    await closeRedis(probe);
    lock.releasePart('worker');
    // The worker reads the same config, so it finds the same Redis (private socket, URL or sentinels).
    let watchdogProblem: string | undefined;
    const stock = new SupervisedProcess('stock', ['worker', '--config', configPath], process.env, log, metrics, {
      onMessage: (m: WorkerReport) => {
        if (m?.type === 'worker-recreated') metrics.workerRecreated.inc({ worker: 'stock' });
        else if (m?.type === 'worker-problem') watchdogProblem = m.problem;
      },
      onExit: () => {
        watchdogProblem = undefined;
      },
      nodeFlags: STOCK_WORKER_NODE_FLAGS,
    });
    (worker = stock).start();
    const relay = await startRelay(holder, spec, log, { metrics, dataDirLocked: true });
    roles.push(relay);
    checkConfig = relay.checkConfig;
    const readyChecks = [relay.readiness, () => stock.problem() ?? watchdogProblem];
    roles.push(await startReceiver(holder, spec, log, { metrics, readyChecks, dataDirLocked: true }));
    if (cfg.console.users.length) {
      const { startConsole } = await import('./console.js'); // loaded only when it runs: the console's pages cost memory
      roles.push(await startConsole(holder, spec, log));
    } else log.info('console not started: console.users is empty (add a user with a hash from `zaiko-bridge config hash-password`)');
  } catch (err) {
    await close();
    throw err;
  }
  log.info({ dataDir: cfg.dataDir }, 'zaiko-bridge started');
  // The stock worker process reads the file itself: a reload reaches it as the same signal.
  return { close, metrics, checkConfig, onReloadSignal: () => worker?.signal('SIGHUP') };
}
