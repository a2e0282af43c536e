// `node dist/cli.js start` without the node flags runs with them all the same (src/roles/relaunch.ts): the
// same pid, replaced (process.execve on Node 22.15+, glibc's through koffi on Node 20); without either, a
// child while the launched process passes signals on.
import { describe, it, expect, afterEach } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { tempDir, SHOP } from '../helpers/env.js';
import { CLI } from '../helpers/cli.js';
import { spawnTracked } from '../helpers/processes.js';
import { until } from '../helpers/net.js';
import { commandOf, missingNodeFlags } from '../../src/roles/relaunch.js';
import { RELAY_NODE_ENV, RELAY_NODE_FLAGS, STOCK_WORKER_NODE_FLAGS } from '../../src/roles/node-flags.js';

describe('which flags a command line lacks', () => {
  it('finds the command after global options and their values', () => {
    expect(commandOf(['--config', 'start', 'relay'])).toBe('relay');
    expect(commandOf(['-c', 'x.yaml', '--debug', 'start'])).toBe('start');
    expect(commandOf(['--log-level', 'info', 'worker', '--config', 'y'])).toBe('worker');
    expect(commandOf(['--version'])).toBeUndefined();
  });

  it('asks only the long-running commands for flags, and counts NODE_OPTIONS as given', () => {
    expect(missingNodeFlags('start', [])).toEqual(RELAY_NODE_FLAGS);
    expect(missingNodeFlags('relay', ['--expose-gc'])).toEqual(RELAY_NODE_FLAGS.filter((f) => f !== '--expose-gc'));
    expect(missingNodeFlags('start', RELAY_NODE_FLAGS)).toEqual([]);
    expect(missingNodeFlags('start', [], RELAY_NODE_FLAGS.join(' '))).toEqual([]);
    expect(missingNodeFlags('worker', ['--expose-gc'])).toEqual(STOCK_WORKER_NODE_FLAGS);
    expect(missingNodeFlags('stock', [])).toEqual([]);
    expect(missingNodeFlags(undefined, [])).toEqual([]);
  });
});

let t: ReturnType<typeof tempDir>;
let proc: ChildProcess | undefined;
afterEach(async () => {
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    const gone = new Promise((r) => proc!.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  }
  t?.cleanup();
});

const nodeFlagsOf = (pid: number) => {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  return argv.slice(1, argv.indexOf(CLI));
};
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Starts `node dist/cli.js start` without flags; resolves to the pid that logs that it serves. */
async function startWithoutFlags(env: NodeJS.ProcessEnv = process.env, viaForkingParent = false): Promise<number> {
  t = tempDir();
  const config = join(t.dir, 'zb.yaml');
  writeFileSync(
    config,
    stringify({ dataDir: './data', relay: { port: 0 }, receiver: { port: 0 }, upstream: { outbox: './outbox' }, shops: [SHOP] }),
  );
  const args = [CLI, 'start', '--config', config];
  if (viaForkingParent) {
    // A supervisor that forks the command with an IPC channel and no node flags (as pm2's fork mode does).
    const parent = join(t.dir, 'parent.cjs');
    writeFileSync(parent, `require('node:child_process').fork(${JSON.stringify(CLI)}, process.argv.slice(2), { execArgv: [] });`);
    args[0] = parent;
  }
  proc = spawnTracked(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  err = '';
  proc.stderr!.on('data', (d) => (err += d));
  await until(() => err.includes('zaiko-bridge started'), 60_000, 'start');
  return err
    .split('\n')
    .filter((l) => l.includes('"zaiko-bridge started"'))
    .map((l) => JSON.parse(l).pid)[0] as number;
}
let err = '';

/** The served process has the relay's flags and environment; SIGTERM to the started pid stops both with 0. */
async function expectFlagsAndCleanStop(served: number): Promise<void> {
  for (const flag of RELAY_NODE_FLAGS) expect(nodeFlagsOf(served)).toContain(flag);
  const environ = readFileSync(`/proc/${served}/environ`, 'utf8').split('\0');
  for (const [k, v] of Object.entries(RELAY_NODE_ENV)) expect(environ).toContain(`${k}=${v}`);
  const exited = new Promise<[number | null, string | null]>((r) => proc!.once('exit', (code, signal) => r([code, signal])));
  proc!.kill('SIGTERM');
  expect(await exited).toEqual([0, null]);
  expect(alive(served)).toBe(false);
  expect(err).toContain('"stopped"');
}

describe('node dist/cli.js start, no flags', () => {
  it('replaces itself (same pid, stderr kept) with the relay flags, and SIGTERM to that pid stops it with exit 0', async () => {
    const served = await startWithoutFlags();
    expect(served).toBe(proc!.pid); // Node 22.15+: process.execve; Node 20: glibc's execve through koffi
    await expectFlagsAndCleanStop(served);
  });

  it('without koffi on Node 20, runs as a child that follows the pid it was started as', async () => {
    const hide = `--require=${resolve('test/fixtures/tooling/without-koffi.cjs')}`;
    const served = await startWithoutFlags({ ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${hide}` });
    const nodeExecve = typeof (process as { execve?: unknown }).execve === 'function';
    if (nodeExecve) expect(served).toBe(proc!.pid);
    else expect(served).not.toBe(proc!.pid);
    await expectFlagsAndCleanStop(served);
  });

  it('forked by a parent with an IPC channel, runs as a child with the flags and stops when that parent is gone', async () => {
    const served = await startWithoutFlags(process.env, true);
    for (const flag of RELAY_NODE_FLAGS) expect(nodeFlagsOf(served)).toContain(flag);
    const forked = Number(readFileSync(`/proc/${served}/stat`, 'utf8').split(') ')[1].split(' ')[1]); // its parent
    expect(forked).not.toBe(proc!.pid); // execve would have closed the channel: a child of the forked process
    proc!.kill('SIGKILL'); // the supervisor dies without a word: its channel closes
    await until(() => !alive(served) && !alive(forked), 30_000, 'the command follows its gone parent');
    expect(err).toContain('"stopped"');
  });

  it('started again and still without the flags (node ignoring them), runs as it is instead of looping', async () => {
    const served = await startWithoutFlags({ ...process.env, ZB_RELAUNCHED: '1' });
    expect(served).toBe(proc!.pid);
    expect(nodeFlagsOf(served)).toEqual([]);
    expect(err).toContain('started again but node still lacks');
  });
});
