// Runs the built CLI (dist/cli.js) as a user would, capturing stdout, stderr and the exit code; with
// the relay's node flags, as the bin's shebang and npm start run it (without them, `start` and `relay`
// start again with them: test/roles/relaunch.test.ts).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { spawnTracked } from './processes.js';
import { RELAY_NODE_FLAGS } from '../../src/roles/node-flags.js';

export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.js');

export function run(args: string[], opts: { env?: Record<string, string>; input?: string } = {}) {
  const r = spawnSync(process.execPath, [...RELAY_NODE_FLAGS, CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    input: opts.input,
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A long-running command (start, relay, …): its own process group, stopped at the end of the test file at the latest. */
export function runAsync(args: string[], env: Record<string, string> = {}) {
  return spawnTracked(process.execPath, [...RELAY_NODE_FLAGS, CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
