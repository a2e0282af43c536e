// `start` runs its stock worker in a thread of its own (issue 24), with the real binary: its private
// redis-server, real HTTP. No second node process; uploads are applied; /readyz and the restart counters
// see it. A thread that dies is restarted: test/roles/stock-thread.test.ts.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { tempDir, SHOP } from '../helpers/env.js';
import { run, runAsync } from '../helpers/cli.js';
import { until } from '../helpers/net.js';
import { post, send, form, auth, items } from '../helpers/http.js';
import { RELAY_NODE_FLAGS } from '../../src/roles/node-flags.js';

let t: ReturnType<typeof tempDir>;
let config: string;
let proc: ChildProcess | undefined;

beforeEach(() => {
  t = tempDir();
  config = join(t.dir, 'zb.yaml');
  writeFileSync(
    config,
    stringify({
      dataDir: './data',
      log: { level: 'info' },
      relay: { port: 0 },
      receiver: { port: 0, waitMs: 300 },
      upstream: { outbox: './outbox' },
      shops: [SHOP],
    }),
  );
  writeFileSync(join(t.dir, 'catalog.csv'), 'TNG-AI-01,藍,20,0,0\n');
  expect(run(['stock', 'import', join(t.dir, 'catalog.csv'), '--config', config]).code).toBe(0);
});
afterEach(async () => {
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    const gone = new Promise((r) => proc!.once('exit', r));
    proc.kill('SIGTERM');
    await gone;
  }
  t.cleanup();
});

const lines = (log: string, msg: string) =>
  log
    .split('\n')
    .filter((l) => l.includes(msg))
    .map((l) => JSON.parse(l));
const stockOf = () => JSON.parse(run(['stock', 'show', 'TNG-AI-01', '--json', '--config', config]).stdout).stock;
/** The node flags a process was started with (what comes before the script). */
const nodeFlags = (pid: number) => {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  return argv.slice(
    1,
    argv.findIndex((a) => a.endsWith('cli.js')),
  );
};

describe('start runs its stock worker in a thread', () => {
  it('one node process (and Redis) applies uploads; /readyz is 200 and no worker has restarted', async () => {
    proc = runAsync(['start', '--config', config]);
    let err = '';
    proc.stderr!.on('data', (d) => (err += d));
    await until(() => err.includes('zaiko-bridge started') && err.includes('stock worker running'), 60_000, 'start');
    const port = lines(err, 'receiver listening')[0].port;
    await until(async () => (await send(port, 'GET', '/readyz')).status === 200, 15_000, 'ready');
    const metrics = async () => (await send(port, 'GET', '/metrics')).text;
    expect(await metrics()).toContain('zaiko_bridge_worker_restarts_total{worker="stock"} 0');
    expect(await metrics()).toContain('zaiko_bridge_worker_restarts_total{worker="delivery"} 0');

    const served = lines(err, 'zaiko-bridge started')[0].pid;
    const worker = lines(err, 'stock worker running')[0];
    expect([worker.pid, worker.thread]).toEqual([served, 'stock']);
    for (const flag of RELAY_NODE_FLAGS) expect(nodeFlags(served)).toContain(flag);
    const kids = readFileSync(`/proc/${served}/task/${served}/children`, 'utf8').trim().split(/\s+/);
    expect(kids.map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/)[0])).toEqual(['redis-server']);

    const res = await post(port, '/api/zaikorobot.php', form([...auth, ...items([['TNG-AI-01', '7']])]));
    expect([res.status, res.text]).toEqual([200, 'OK\n']);
    expect(stockOf()).toBe(7);
  });
});
