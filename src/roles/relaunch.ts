// A long-running command started without the node flags it needs (`node dist/cli.js start`) starts again
// with them, so every way of starting it costs the same memory. Imported first by src/cli.ts and kept
// small: on Node 20 this module is all the relaunching process loads.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { libc } from '../observe/libc.js';
import { RELAY_NODE_ENV, RELAY_NODE_FLAGS, STOCK_WORKER_NODE_FLAGS } from './node-flags.js';

const FLAGS_OF: Readonly<Record<string, readonly string[]>> = {
  start: RELAY_NODE_FLAGS,
  relay: RELAY_NODE_FLAGS,
  worker: STOCK_WORKER_NODE_FLAGS,
};
/**
 * Where the relaunch must be a child (no execve: neither process.execve nor glibc through koffi), only where
 * the flags save more than the launching process costs (44 MB): the relay's flags save 50–65 MB and free
 * large mail's Buffers; the worker's ~20 MB.
 */
const WORTH_A_CHILD = new Set(['start', 'relay']);
/** Global options that take a value: the word after them is not the command. */
const OPTIONS_WITH_VALUE = new Set(['-c', '--config', '--log-level']);

/** The command a command line runs (the first word that is not an option or an option's value). */
export function commandOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (OPTIONS_WITH_VALUE.has(args[i])) i++;
    else if (!args[i].startsWith('-')) return args[i];
  }
  return undefined;
}

/** The flags `command` needs that this process was not given (on its command line or in NODE_OPTIONS). */
export function missingNodeFlags(command: string | undefined, execArgv: readonly string[], nodeOptions = ''): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)]);
  return (FLAGS_OF[command ?? ''] ?? []).filter((f) => !given.has(f));
}

/** Set in the environment of the replaced process: if it still lacks the flags, it runs as it is instead of looping. */
const RELAUNCHED = 'ZB_RELAUNCHED';

/**
 * Starts this command again with its missing flags. The process is replaced (execve: same pid, so systemd,
 * shells and signals see no difference) and this never returns: Node 22.15+ has `process.execve`; on Node
 * 20 glibc's execve is called through koffi (observe/libc.ts). Not when a parent holds an IPC channel to
 * this process (fork()): execve would close it, and the command follows its parent through it (cli/run.ts).
 * Then, or where execve cannot be had: `start` and `relay` run as a child with the flags while this process
 * passes signals on and exits as the child does; resolves true then (run nothing else). Resolves false when
 * it runs here as it is.
 */
export async function relaunchWithNodeFlags(): Promise<boolean> {
  const command = commandOf(process.argv.slice(2));
  const missing = missingNodeFlags(command, process.execArgv, process.env.NODE_OPTIONS);
  const relaunched = process.env[RELAUNCHED];
  delete process.env[RELAUNCHED]; // for this process only: not for the commands it starts
  if (!missing.length) return false;
  if (relaunched) {
    process.stderr.write(`zaiko-bridge: started again but node still lacks ${missing.join(' ')}; running without them\n`);
    return false;
  }
  const argv = [...process.execArgv, ...missing, ...process.argv.slice(1)];
  const env = { ...(command === 'start' ? RELAY_NODE_ENV : {}), ...process.env, [RELAUNCHED]: '1' };
  const failure = process.channel ? undefined : replaceProcess([process.execPath, ...argv], env);
  const worth = WORTH_A_CHILD.has(command!);
  if (failure) {
    const next = worth ? 'starting it as a child' : 'running without them';
    process.stderr.write(`zaiko-bridge: could not replace the process to add node flags (${failure}); ${next}\n`);
  }
  if (!worth) return false;
  // The IPC channel tells the child when this process is gone, however it ends (src/cli/run.ts follows it).
  const child = spawn(process.execPath, argv, { env, stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  // Forked by `start`'s supervisor or scripts/start.mjs: follow the parent as the command itself would.
  process.on('disconnect', () => child.kill('SIGTERM'));
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  if (process.connected) process.channel?.unref(); // the IPC channel must not keep this process alive
  process.exitCode = code ?? 128 + (signal ? constants.signals[signal] : 0);
  return true;
}

/**
 * execve through Node (22.15+) or glibc (koffi). Returns only if neither replaced the process: why, or
 * undefined where there is no execve to try (another libc, OS or CPU: the fallback is then the expected way).
 */
function replaceProcess(args: string[], env: NodeJS.ProcessEnv): string | undefined {
  const nodeExecve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
  if (nodeExecve) {
    try {
      nodeExecve(process.execPath, args, env);
    } catch (err) {
      return (err as Error).message;
    }
  }
  const c = libc();
  return c ? `errno ${c.execve(process.execPath, args, env)}` : undefined;
}
