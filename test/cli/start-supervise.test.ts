// `start` keeps its stock worker process running (issue 12 case 4), with the real binary: its private
// redis-server, the worker child it forks, real HTTP. kill -9 of the worker: /readyz answers 503 naming it
// (the log names it) until it runs again, the restart is counted, and an upload answered while it was down is applied.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { tempDir, SHOP } from '../helpers/env.js';
import { run, runAsync } from '../helpers/cli.js';
import { until } from '../helpers/net.js';
import { post, send, form, auth, items } from '../helpers/http.js';
import { STOCK_WORKER_NODE_FLAGS } from '../../src/roles/node-flags.js';

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

describe('start supervises its stock worker', () => {
  it('restarts a killed worker; /readyz is 503 meanwhile (the log names it); an upload made then is applied after', async () => {
    proc = runAsync(['start', '--config', config]);
    let err = '';
    proc.stderr!.on('data', (d) => (err += d));
    await until(() => err.includes('zaiko-bridge started') && err.includes('stock worker running'), 30_000, 'start');
    const port = lines(err, 'receiver listening')[0].port;
    await until(async () => (await send(port, 'GET', '/readyz')).status === 200, 15_000, 'ready');
    const metrics = async () => (await send(port, 'GET', '/metrics')).text;
    expect(await metrics()).toContain('zaiko_bridge_worker_restarts_total{worker="stock"} 0');
    expect(await metrics()).toContain('zaiko_bridge_worker_restarts_total{worker="delivery"} 0');

    const firstPid = lines(err, 'stock worker running')[0].pid;
    // Its own V8 flags (a small young generation) after the ones it inherits from `start` (--expose-gc).
    expect(nodeFlags(firstPid)).toEqual(['--expose-gc', ...STOCK_WORKER_NODE_FLAGS]);
    process.kill(firstPid, 'SIGKILL');
    const down = await until(
      async () => {
        const r = await send(port, 'GET', '/readyz');
        return r.status === 503 && r;
      },
      15_000,
      '503',
    );
    expect(down.text).toBe('not ready\n'); // the body says nothing more; the log names what is down
    await until(() => lines(err, '"not ready"').some((l) => l.problems?.includes('stock worker not running')), 10_000, 'log names it');
    const res = await post(port, '/api/zaikorobot.php', form([...auth, ...items([['TNG-AI-01', '7']])]));
    expect([res.status, res.text]).toEqual([200, 'OK\n']);

    await until(() => lines(err, 'stock worker running').length === 2, 30_000, 'worker restarted');
    expect(lines(err, 'stock worker running')[1].pid).not.toBe(firstPid);
    expect(nodeFlags(lines(err, 'stock worker running')[1].pid)).toEqual(['--expose-gc', ...STOCK_WORKER_NODE_FLAGS]);
    expect(lines(err, 'stock process died')[0]).toMatchObject({ signal: 'SIGKILL', restartInMs: 1000 });
    await until(async () => (await send(port, 'GET', '/readyz')).status === 200, 15_000, 'ready again');
    await until(() => stockOf() === 7, 30_000, 'upload applied by the restarted worker');
    expect(await metrics()).toContain('zaiko_bridge_worker_restarts_total{worker="stock"} 1');
  });
});
