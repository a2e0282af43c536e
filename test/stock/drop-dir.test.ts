// The drop folder and `stock apply-file` against real files, a real Redis and real SQLite: a file is one
// upload while it is open, whatever reads it; only regular files within receiver.maxBytes are read.
import { describe, it, expect, beforeEach, afterEach, inject } from 'vitest';
import { writeFileSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, lstatSync, utimesSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Config } from '../../src/config/schema.js';
import { openDb, type DB } from '../../src/db/open.js';
import { importCatalog, parseCatalog, productView } from '../../src/stock/catalog.js';
import { UploadStore } from '../../src/stock/store.js';
import { applyUpload } from '../../src/stock/apply/apply.js';
import { StockFileStore } from '../../src/stock/files/file-store.js';
import { takeStockFile } from '../../src/stock/files/stock-file.js';
import { startWorker } from '../../src/roles/worker.js';
import type { RunningRole } from '../../src/roles/receiver.js';
import { tempDir, testConfig, uniqueName, log, SHOP, stopAll } from '../helpers/env.js';
import { run } from '../helpers/cli.js';
import { until } from '../helpers/net.js';

let t: ReturnType<typeof tempDir>;
let cfg: Config;
let db: DB;
let drop: string;
let shopDir: string;
const running: RunningRole[] = [];
const redisUrl = inject('redisUrl');

const stock = (code: string) => productView(db, SHOP.id, code)?.stock;
const uploadCount = () => db.prepare('SELECT COUNT(*) FROM uploads').pluck().get();
const result = (target: string, name: string) => readFileSync(join(shopDir, target, `${name}.result`), 'utf8');
/** Written with an old mtime, so the watcher takes it at once (it leaves files younger than 1 s). */
function dropFile(name: string, content: string | Buffer) {
  writeFileSync(join(shopDir, name), content);
  utimesSync(join(shopDir, name), new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
}
async function worker(overrides: Record<string, any> = {}) {
  const queueName = uniqueName('stock');
  cfg = testConfig(t.dir, { receiver: { dropDir: drop, ...overrides } });
  running.push(await startWorker(cfg, redisUrl, log, { queueName, dropPollMs: 50 }));
}

beforeEach(() => {
  t = tempDir();
  drop = join(t.dir, 'drop');
  shopDir = join(drop, SHOP.id);
  mkdirSync(shopDir, { recursive: true });
  cfg = testConfig(t.dir);
  db = openDb(t.dir, 'stock');
  importCatalog(db, SHOP.id, parseCatalog(Buffer.from('TNG-AI-01,藍,20,0,0\nMZR-SET-5,豆皿,4,0,0\n')));
});
afterEach(async () => {
  await stopAll(...running.splice(0).reverse());
  db.close();
  t.cleanup();
});

describe('a stock file is one upload while it is open', () => {
  it('a file applied but not moved before a crash is moved, not applied again over a newer upload', async () => {
    const files = new StockFileStore(new UploadStore(db));
    dropFile('a.csv', 'TNG-AI-01,5\n');
    const first = takeStockFile(files, SHOP.id, 'drop', 'a.csv', readFileSync(join(shopDir, 'a.csv'))); // the crashed worker's read
    applyUpload(db, first.uploadId);
    const newer = new UploadStore(db).insert(SHOP.id, { source: 'http', charset: 'utf-8' }, [{ code: 'TNG-AI-01', rawStock: '99' }]);
    applyUpload(db, newer);
    await worker();
    await until(() => existsSync(join(shopDir, 'done', 'a.csv.result')), 10_000, 'a.csv done');
    expect(result('done', 'a.csv')).toBe(`upload ${first.uploadId}: applied 1, skipped 0\n`);
    expect([stock('TNG-AI-01'), uploadCount()]).toEqual([99, 2]);
  });

  it('a file moved before a crash could finish its row: the row is finished at start, a new delivery is a new upload', async () => {
    const files = new StockFileStore(new UploadStore(db));
    const first = takeStockFile(files, SHOP.id, 'drop', 'm.csv', Buffer.from('TNG-AI-01,5\n')); // stored, row open
    applyUpload(db, first.uploadId);
    mkdirSync(join(shopDir, 'done'));
    writeFileSync(join(shopDir, 'done', 'm.csv'), 'TNG-AI-01,5\n'); // moved; then the crash, before finish()
    await worker();
    await until(() => files.open('drop').length === 0, 10_000, 'open row finished at start');
    dropFile('m.csv', 'TNG-AI-01,5\n'); // the same file delivered again later is a new delivery
    await until(() => existsSync(join(shopDir, 'done', 'm.csv.1.result')), 10_000, 'new delivery done');
    expect(uploadCount()).toBe(2);
  });

  it('stock.db commits fsync (synchronous=FULL): an upload is on disk before it is answered or its file moved', () => {
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it('the same name and content delivered again after the first was moved is a new upload', async () => {
    await worker();
    dropFile('s.csv', 'TNG-AI-01,5\n');
    await until(() => existsSync(join(shopDir, 'done', 's.csv.result')), 10_000, 'first done');
    dropFile('s.csv', 'TNG-AI-01,5\n');
    await until(() => existsSync(join(shopDir, 'done', 's.csv.1.result')), 10_000, 'second done, beside the first');
    expect(result('done', 's.csv.1')).toBe('upload 2: applied 1, skipped 0\n');
    expect(readFileSync(join(shopDir, 'done', 's.csv'), 'utf8')).toBe('TNG-AI-01,5\n');
    expect(uploadCount()).toBe(2);
  });

  it('stock apply-file run again before its result was reported uses the first upload', () => {
    const config = join(t.dir, 'zb.yaml');
    writeFileSync(config, stringify({ dataDir: '.', redis: { url: 'unix:///nonexistent/redis.sock' }, shops: [SHOP] }));
    writeFileSync(join(t.dir, 'f.csv'), 'MZR-SET-5,7\n');
    const first = run(['stock', 'apply-file', join(t.dir, 'f.csv'), '--config', config]);
    expect([first.code, first.stderr]).toEqual([69, expect.stringContaining('stored as upload 1')]);
    const again = run(['stock', 'apply-file', join(t.dir, 'f.csv'), '--config', config]);
    expect(again.stderr).toContain('already stored as upload 1');
    expect(again.stderr).toContain('stored as upload 1, but Redis');
    expect(uploadCount()).toBe(1);
  });
});

describe('the drop folder reads only regular files within receiver.maxBytes', () => {
  it('moves a symlink, a FIFO, a directory and an oversize file to failed/ with the reason, reading none', async () => {
    const outside = join(t.dir, 'outside-passwd');
    writeFileSync(outside, 'TNG-AI-01,0\n'); // would be a valid stock file if it were followed
    symlinkSync(outside, join(shopDir, 'link.csv'));
    expect(spawnSync('mkfifo', [join(shopDir, 'pipe.csv')]).status).toBe(0);
    mkdirSync(join(shopDir, 'folder.csv'));
    dropFile('big.csv', 'TNG-AI-01,1\n' + 'x'.repeat(2000));
    dropFile('ok.csv', 'MZR-SET-5,8\n');
    await worker({ maxBytes: 1024 });
    await until(() => existsSync(join(shopDir, 'done', 'ok.csv.result')), 10_000, 'ok.csv done');
    await until(
      () => ['link.csv', 'pipe.csv', 'folder.csv', 'big.csv'].every((n) => existsSync(join(shopDir, 'failed', `${n}.result`))),
      10_000,
      'refused',
    );
    expect(result('failed', 'link.csv')).toBe('failed: a symbolic link, not a regular file\n');
    expect(result('failed', 'pipe.csv')).toBe('failed: a FIFO, not a regular file\n');
    expect(result('failed', 'folder.csv')).toBe('failed: a directory, not a regular file\n');
    expect(result('failed', 'big.csv')).toBe('failed: larger than receiver.maxBytes (1024 bytes)\n');
    expect(lstatSync(join(shopDir, 'failed', 'link.csv')).isSymbolicLink()).toBe(true); // the link moved, not its target
    expect(lstatSync(join(shopDir, 'failed', 'pipe.csv')).isFIFO()).toBe(true);
    expect(readFileSync(outside, 'utf8')).toBe('TNG-AI-01,0\n');
    expect([stock('TNG-AI-01'), stock('MZR-SET-5'), uploadCount()]).toEqual([20, 8, 1]);
  });

  it('never writes a .result through a symlink planted in failed/', async () => {
    const victim = join(t.dir, 'victim');
    writeFileSync(victim, 'keep');
    mkdirSync(join(shopDir, 'failed'));
    symlinkSync(victim, join(shopDir, 'failed', 'bad.csv.result'));
    dropFile('bad.csv', 'one-column\n');
    await worker();
    await until(() => existsSync(join(shopDir, 'failed', 'bad.csv.1.result')), 10_000, 'bad.csv refused');
    expect(result('failed', 'bad.csv.1')).toMatch(/^failed: line 1: expected 2 columns/);
    expect(readFileSync(victim, 'utf8')).toBe('keep');
  });
});

describe('retention.dropDays', () => {
  it('the worker removes done/ and failed/ entries whose .result is older, each with its .result; newer ones stay', async () => {
    const days = (n: number) => new Date(Date.now() - n * 86_400_000);
    const put = (target: string, name: string, resultAgeDays: number | null, fileAgeDays = 400) => {
      mkdirSync(join(shopDir, target), { recursive: true });
      writeFileSync(join(shopDir, target, name), 'TNG-AI-01,1\n');
      // A moved file keeps its own (old) mtime: the .result says when it was moved.
      utimesSync(join(shopDir, target, name), days(fileAgeDays), days(fileAgeDays));
      if (resultAgeDays === null) return;
      writeFileSync(join(shopDir, target, `${name}.result`), 'upload 1: applied 1, skipped 0\n');
      utimesSync(join(shopDir, target, `${name}.result`), days(resultAgeDays), days(resultAgeDays));
    };
    put('done', 'old.csv', 31);
    put('done', 'recent.csv', 29); // the file itself is 400 days old: moved 29 days ago, it stays
    put('failed', 'old-bad.csv', 45);
    put('failed', 'no-result.csv', null, 31); // a crash between move and .result: by its own age
    put('failed', 'new-bad.csv', 1);
    await worker({});
    const left = (target: string) => readdirSync(join(shopDir, target)).sort();
    expect(left('done')).toEqual(['recent.csv', 'recent.csv.result']);
    expect(left('failed')).toEqual(['new-bad.csv', 'new-bad.csv.result']);
  });

  it('a shorter retention.dropDays removes more', async () => {
    mkdirSync(join(shopDir, 'done'), { recursive: true });
    writeFileSync(join(shopDir, 'done', 'a.csv'), 'x\n');
    writeFileSync(join(shopDir, 'done', 'a.csv.result'), 'upload 1: applied 1, skipped 0\n');
    const threeDays = new Date(Date.now() - 3 * 86_400_000);
    utimesSync(join(shopDir, 'done', 'a.csv.result'), threeDays, threeDays);
    cfg = testConfig(t.dir, { receiver: { dropDir: drop }, retention: { dropDays: 2 } });
    running.push(await startWorker(cfg, redisUrl, log, { queueName: uniqueName('stock'), dropPollMs: 50 }));
    expect(readdirSync(join(shopDir, 'done'))).toEqual([]);
  });
});
