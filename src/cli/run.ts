// The long-running commands: start (everything), relay, receiver, worker, console. SIGINT/SIGTERM stop them
// in order; a second signal, or the 15 s bound, ends the process at once. Each loads its role when it runs:
// the `worker` process (and `start`'s stock thread) loads no SMTP server, mail parser or web console.
import type { Command } from 'commander';
import { context } from './context.js';
import type { RedisSpec } from '../queue/redis.js';
import type { RunningRole } from '../roles/receiver.js';
import { BridgeError } from '../errors/codes.js';
import { ConfigHolder } from '../config/holder.js';
import type { Logger } from '../observe/logger.js';

const SHUTDOWN_BOUND_MS = 15_000;
const FAILED_START_EXIT_MS = 2000;

/** A second signal this soon after the first is the same request: Ctrl-C reaches `npm start`'s whole group and is passed on too. */
const SAME_REQUEST_MS = 1000;

/** Installed before the role starts: a SIGTERM between 'listening' and the end of start-up still stops it cleanly. */
function stopOnSignals(starting: Promise<RunningRole>, log: Logger): void {
  let stoppingSince = 0;
  const stop = (signal: string) => {
    if (stoppingSince) {
      if (Date.now() - stoppingSince > SAME_REQUEST_MS) process.exit(1);
      return;
    }
    stoppingSince = Date.now();
    log.info({ signal }, 'stopping');
    setTimeout(() => {
      log.error('shutdown bound passed; exiting');
      process.exit(1);
    }, SHUTDOWN_BOUND_MS).unref();
    starting
      .then((role) => role.close())
      .then(
        () => {
          log.info('stopped');
          process.exit(0);
        },
        (err) => {
          log.error({ err: err.message }, 'stop failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Under scripts/start.mjs or the relaunch's child fallback (roles/relaunch.ts): follow the parent.
  process.on('disconnect', () => stop('parent gone'));
}

/**
 * SIGHUP (systemctl reload, `zaiko-bridge config reload`): read the file again (roles/reload.ts). Installed
 * before the role starts, since a SIGHUP left to Node's default would end the process. `--log-level`
 * given on the command line wins over log.level in a reloaded file as it does at start.
 */
function reloadOnSignal(starting: Promise<RunningRole>, run: Run): void {
  const { holder, path, log } = run;
  if (!run.logLevelFlag) holder.onChange((next) => (log.level = next.log.level));
  process.on('SIGHUP', () => {
    log.info({ config: path }, 'SIGHUP: reloading the config');
    starting.then(
      async (role) => {
        const { reloadConfig } = await import('../roles/reload.js');
        reloadConfig(holder, path, log, role.metrics, role.checkConfig?.bind(role));
      },
      () => {},
    );
  });
}

interface Run {
  holder: ConfigHolder;
  path: string;
  log: Logger;
  logLevelFlag?: string;
}

/** What a long-running command runs with: the config behind a holder a reload can swap. */
function runOf(cmd: Command, loaded: ReturnType<typeof context>): Run {
  return {
    holder: new ConfigHolder(loaded.config),
    path: loaded.path,
    log: loaded.log,
    logLevelFlag: cmd.optsWithGlobals<{ logLevel?: string }>().logLevel,
  };
}

/** A role that fails to start stops what it began; should anything still hold the event loop, exit anyway. */
async function runRole(run: Run, start: (holder: ConfigHolder) => Promise<RunningRole>): Promise<void> {
  const { log } = run;
  const starting = start(run.holder);
  stopOnSignals(starting, log);
  reloadOnSignal(starting, run);
  try {
    await starting;
  } catch (err) {
    setTimeout(() => process.exit(process.exitCode || 1), FAILED_START_EXIT_MS).unref();
    throw err;
  }
}

async function external(cmd: Command): Promise<{ spec: RedisSpec; run: Run; config: ReturnType<typeof context>['config'] }> {
  const loaded = context(cmd);
  const { config, log } = loaded;
  const { redisSpec, connectOrFail, checkEvictionPolicy, closeRedis } = await import('../queue/redis.js');
  const spec = redisSpec(config);
  const probe = await connectOrFail(spec);
  await checkEvictionPolicy(probe, log);
  await closeRedis(probe);
  return { spec, run: runOf(cmd, loaded), config };
}

export function registerRun(program: Command): void {
  program
    .command('start')
    .description('run every role in one process tree (starts a private Redis when redis.url is empty)')
    .action(async (_o, cmd: Command) => {
      const run = runOf(cmd, context(cmd));
      const { startAll } = await import('../roles/start.js');
      await runRole(run, (holder) => startAll(holder, run.log));
    });
  program
    .command('relay')
    .description('SMTP relay and its delivery workers')
    .action(async (_o, cmd: Command) => {
      const { spec, run } = await external(cmd);
      const { startRelay } = await import('../roles/relay.js');
      await runRole(run, (holder) => startRelay(holder, spec, run.log));
    });
  program
    .command('receiver')
    .description('HTTP upload endpoint, /healthz, /readyz')
    .action(async (_o, cmd: Command) => {
      const { spec, run } = await external(cmd);
      const { startReceiver } = await import('../roles/receiver.js');
      await runRole(run, (holder) => startReceiver(holder, spec, run.log));
    });
  program
    .command('console')
    .description("the web console for the shop's operator (console.host:console.port)")
    .action(async (_o, cmd: Command) => {
      const { spec, run, config } = await external(cmd);
      if (!config.console.users.length) {
        throw new BridgeError('BAD_INPUT', 'console.users is empty: add a user with a hash from `zaiko-bridge config hash-password`');
      }
      const { startConsole } = await import('../roles/console.js');
      await runRole(run, (holder) => startConsole(holder, spec, run.log, true));
    });
  program
    .command('worker')
    .description('stock apply worker and drop-folder watcher')
    .action(async (_o, cmd: Command) => {
      const run = runOf(cmd, context(cmd));
      const { log } = run;
      const config = run.holder.get();
      const [{ startWorker }, { redisSpec }] = await Promise.all([import('../roles/worker.js'), import('../queue/redis.js')]);
      await runRole(run, (holder) => startWorker(holder, redisSpec(config), log));
    });
}
