// Issue 12 case 3 with real processes (worker and receiver roles of dist/cli.js, a private redis-server,
// the stock.db file): a drop-folder file stored as an upload but not yet moved when its worker is killed
// is the same upload when the restarted worker reads it again, so it cannot overwrite a newer upload.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { writeFileSync, existsSync, mkdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { tempDir, SHOP } from '../helpers/env.js';
import { run, runAsync } from '../helpers/cli.js';
import { freePort, startRedis, until } from '../helpers/net.js';
import { post, form, auth, items } from '../helpers/http.js';
import { openDb } from '../../src/db/open.js';

let t: ReturnType<typeof tempDir>;
let redis: Awaited<ReturnType<typeof startRedis>>;
let config: string;
const procs: ChildProcess[] = [];

function spawnRole(role: string): { proc: ChildProcess; log: () => string } {
  const proc = runAsync([role, '--config', config]);
  procs.push(proc);
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  return { proc, log: () => err };
}
const exited = (p: ChildProcess) =>
  new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));

beforeEach(async () => {
  t = tempDir();
  redis = await startRedis(await freePort());
  config = join(t.dir, 'zb.yaml');
  writeFileSync(
    config,
    stringify({
      dataDir: './data',
      redis: { url: redis.url },
      log: { level: 'info' },
      receiver: { port: await freePort(), waitMs: 300, dropDir: './drop' },
      shops: [SHOP],
    }),
  );
  writeFileSync(join(t.dir, 'catalog.csv'), 'TNG-AI-01,藍,20,0,0\n');
  expect(run(['stock', 'import', join(t.dir, 'catalog.csv'), '--config', config]).code).toBe(0);
});

afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.kill('SIGKILL');
    await exited(p);
  }
  await redis.stop();
  t.cleanup();
});

describe('a drop-folder file re-read after a worker crash', () => {
  it('is the upload it was stored as: 20 → 5 → 99 ends at 99, not 5', async () => {
    const shopDir = join(t.dir, 'drop', SHOP.id);
    const db = openDb(join(t.dir, 'data'), 'stock');
    const stock = () => db.prepare("SELECT stock FROM products WHERE code = 'TNG-AI-01'").pluck().get();
    const uploads = () =>
      db.prepare('SELECT id, source, status FROM uploads ORDER BY id').all() as { id: number; source: string; status: string }[];
    try {
      expect(run(['queue', 'pause', 'stock', '--config', config]).code).toBe(0);
      const first = spawnRole('worker');
      await until(() => first.log().includes('stock worker running'), 20_000, 'worker');
      mkdirSync(shopDir, { recursive: true });
      writeFileSync(join(shopDir, 'a.csv'), 'product_code,stock\nTNG-AI-01,5\n');
      utimesSync(join(shopDir, 'a.csv'), new Date(Date.now() - 10_000), new Date(Date.now() - 10_000)); // settled
      await until(() => uploads().length === 1, 20_000, 'file A stored');
      first.proc.kill('SIGKILL'); // stored, not yet applied (the queue is paused), not yet moved
      await exited(first.proc);
      expect(existsSync(join(shopDir, 'a.csv'))).toBe(true);

      const receiver = spawnRole('receiver');
      await until(() => receiver.log().includes('receiver listening'), 20_000, 'receiver');
      const port = JSON.parse(
        receiver
          .log()
          .split('\n')
          .find((l) => l.includes('receiver listening'))!,
      ).port;
      const res = await post(port, '/api/zaikorobot.php', form([...auth, ...items([['TNG-AI-01', '99']])]));
      expect([res.status, res.text]).toEqual([200, 'OK\n']); // stored; applied later
      expect(uploads().map((u) => u.source)).toEqual(['file', 'http']);

      expect(run(['queue', 'resume', 'stock', '--config', config]).code).toBe(0);
      spawnRole('worker');
      await until(() => existsSync(join(shopDir, 'done', 'a.csv.result')), 30_000, 'file A moved to done/');
      await until(() => uploads().every((u) => u.status === 'applied'), 30_000, 'uploads applied');
      expect(stock()).toBe(99);
      expect(uploads().map((u) => u.source)).toEqual(['file', 'http']); // no third upload from the re-read
    } finally {
      db.close();
    }
  });
});
