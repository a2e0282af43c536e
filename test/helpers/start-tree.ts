// `zaiko-bridge start` as a real process for the attack tests that watch it from outside (its memory, its
// answers under load): started from a config, ready once the receiver answers /healthz, stopped with
// SIGTERM and, past a grace period, SIGKILL.
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { inject } from 'vitest';
import { stringify } from 'yaml';
import { SHOP, uniqueName } from './env.js';
import { runAsync } from './cli.js';
import { until, sleep } from './net.js';
import { post } from './http.js';

/**
 * Starts the tree in `dir` (its data in `dir`/data, the test shop, a unique instance on the test Redis, only
 * warnings logged) on the given ports, with `receiver`'s options; resolves once its receiver answers.
 */
export async function startTree(
  dir: string,
  ports: { relay: number; receiver: number },
  receiver: Record<string, unknown> = {},
): Promise<ChildProcess> {
  const path = join(dir, 'zb.yaml');
  writeFileSync(
    path,
    stringify({
      dataDir: './data',
      instance: uniqueName('tree'),
      redis: { url: inject('redisUrl') },
      log: { level: 'warn' },
      relay: { port: ports.relay },
      receiver: { port: ports.receiver, ...receiver },
      shops: [SHOP],
    }),
  );
  const proc = runAsync(['start', '--config', path]);
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  await until(
    async () => (await post(ports.receiver, '/healthz', '').catch(() => undefined))?.status === 200,
    60_000,
    `start answering (${err})`,
  );
  return proc;
}

/** SIGTERM, then SIGKILL if it is still there after `graceMs`. */
export async function stopTree(proc: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!proc || proc.exitCode !== null) return;
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await Promise.race([gone, sleep(graceMs)]);
  if (proc.exitCode === null) proc.kill('SIGKILL');
}

/** VmRSS and VmHWM (peak) of a process, in MB. */
export function memoryMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}
