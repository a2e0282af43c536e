// The programs tests run: a missing one fails with the Debian package to install, and every process a
// test starts is its own process group, stopped (with whatever it started) when the test file ends.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Each program a test runs, and the Debian package that brings it (what .ci/run installs). */
export const DEBIAN_PACKAGES: Readonly<Record<string, string>> = {
  'redis-server': 'redis-server',
  'redis-sentinel': 'redis-sentinel',
  swaks: 'swaks',
  postfix: 'postfix',
  'smtp-source': 'postfix',
  'smtp-sink': 'postfix',
  'systemd-analyze': 'systemd',
  chromium: 'chromium',
  openssl: 'openssl',
  php: 'php-cli',
};

/** postfix and its tools live in /usr/sbin, not on every user's PATH. */
const EXTRA_DIRS = ['/usr/sbin', '/sbin'];

function findExecutable(name: string): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS];
  return dirs.map((d) => join(d, name)).find(isExecutable);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The path of `name`, or an Error whose message is the one line to act on: `apt-get install -y <package>`. */
export function requireTool(name: string): string {
  const path = findExecutable(name);
  if (path) return path;
  const pkg = DEBIAN_PACKAGES[name];
  throw new Error(
    pkg
      ? `${name} is missing: apt-get install -y ${pkg} (Debian package ${pkg}; .ci/run installs it)`
      : `${name} is missing from PATH and /usr/sbin`,
  );
}

const running = new Set<ChildProcess>();

/**
 * spawn() for tests: checks the program first (requireTool), makes the child a process-group leader
 * (detached) so stopSpawned() reaches what it starts in turn, and remembers it until it exits.
 */
export function spawnTracked(command: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const program = command === process.execPath ? command : requireTool(command);
  const child = spawn(program, args, { ...opts, detached: true });
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.once('error', () => running.delete(child));
  return child;
}

/** The process groups still running (for a test's own assertions). */
export const spawnedPids = (): number[] => [...running].map((c) => c.pid).filter((p): p is number => p !== undefined);

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* the group is gone already */
  }
}

/** SIGTERM to every group still running, SIGKILL to what is left after boundMs; resolves when each leader has exited. */
export async function stopSpawned(boundMs = 5000): Promise<void> {
  const left = [...running];
  if (!left.length) return;
  const exited = left.map(
    (c) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r()))),
  );
  for (const c of left) if (c.pid) signalGroup(c.pid, 'SIGTERM');
  const kill = setTimeout(() => {
    for (const c of left) if (c.pid) signalGroup(c.pid, 'SIGKILL');
  }, boundMs);
  await Promise.all(exited);
  clearTimeout(kill);
  // The leader has exited; anything else of its group (a grandchild ignoring SIGTERM) goes too.
  for (const c of left) if (c.pid) signalGroup(c.pid, 'SIGKILL');
}

// A test file that ends without its hooks (a worker torn down) still leaves nothing behind.
process.once('exit', () => {
  for (const c of running) if (c.pid) signalGroup(c.pid, 'SIGKILL');
});
