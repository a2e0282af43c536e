// The `worker` role as systemd runs it (dist/cli.js worker, real redis-server, real files): with Redis
// down at start it keeps storing drop-folder files and applies them once Redis is there; when it cannot
// start at all it exits non-zero instead of hanging half-started.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { writeFileSync, existsSync, mkdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { tempDir, SHOP } from '../helpers/env.js';
import { run, runAsync } from '../helpers/cli.js';
import { freePort, startRedis, until } from '../helpers/net.js';
import { openDb } from '../../src/db/open.js';

let t: ReturnType<typeof tempDir>;
let config: string;
let port: number;
const procs: ChildProcess[] = [];
const stops: (() => Promise<void>)[] = [];
const exited = (p: ChildProcess) =>
  new Promise<number | null>((r) => (p.exitCode !== null || p.signalCode !== null ? r(p.exitCode) : p.once('exit', (c) => r(c))));

function writeConfig(dropDir: string) {
  writeFileSync(
    config,
    stringify({
      dataDir: './data',
      redis: { url: `redis://127.0.0.1:${port}` },
      log: { level: 'info' },
      receiver: { dropDir },
      shops: [SHOP],
    }),
  );
}

beforeEach(async () => {
  t = tempDir();
  port = await freePort();
  config = join(t.dir, 'zb.yaml');
  writeConfig('./drop');
  writeFileSync(join(t.dir, 'catalog.csv'), 'TNG-AI-01,藍,20,0,0\n');
  expect(run(['stock', 'import', join(t.dir, 'catalog.csv'), '--config', config]).code).toBe(0);
});
afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.kill('SIGKILL');
    await exited(p);
  }
  for (const stop of stops.splice(0)) await stop();
  t.cleanup();
});

describe('the worker role', () => {
  it('with Redis down at start stores drop-folder files, and applies them once Redis answers', async () => {
    const proc = runAsync(['worker', '--config', config]);
    procs.push(proc);
    let err = '';
    proc.stderr!.on('data', (d) => (err += d));
    await until(() => err.includes('stock worker running'), 30_000, 'worker running without Redis');
    const shopDir = join(t.dir, 'drop', SHOP.id);
    mkdirSync(shopDir, { recursive: true });
    writeFileSync(join(shopDir, 'a.csv'), 'TNG-AI-01,6\n');
    utimesSync(join(shopDir, 'a.csv'), new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
    const db = openDb(join(t.dir, 'data'), 'stock');
    try {
      const fileUpload = () => db.prepare("SELECT status FROM uploads WHERE source = 'file'").pluck().get();
      await until(() => fileUpload() === 'stored', 20_000, 'stored while Redis is down');
      expect(proc.exitCode).toBe(null);
      const redis = await startRedis(port);
      stops.push(redis.stop);
      await until(() => existsSync(join(shopDir, 'done', 'a.csv.result')), 40_000, 'applied and moved once Redis is up');
      expect(db.prepare("SELECT stock FROM products WHERE code = 'TNG-AI-01'").pluck().get()).toBe(6);
    } finally {
      db.close();
    }
  });

  it('exits non-zero when it cannot start (its drop folder cannot be made)', async () => {
    writeFileSync(join(t.dir, 'not-a-dir'), '');
    writeConfig('./not-a-dir');
    const proc = runAsync(['worker', '--config', config]);
    procs.push(proc);
    let err = '';
    proc.stderr!.on('data', (d) => (err += d));
    const code = await exited(proc);
    expect(code).not.toBe(0);
    expect(code).not.toBe(null);
    expect(err).toContain('not-a-dir');
  });
});
