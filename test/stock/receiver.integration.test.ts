// The upload endpoint end to end: real HTTP, real Redis (BullMQ), real SQLite files, the real worker.
import { describe, it, expect, beforeEach, afterEach, inject } from 'vitest';
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import type { Config } from '../../src/config/schema.js';
import { openDb, type DB } from '../../src/db/open.js';
import { importCatalog, parseCatalog, productView } from '../../src/stock/catalog.js';
import { UploadStore } from '../../src/stock/store.js';
import { startReceiver, type RunningRole } from '../../src/roles/receiver.js';
import { startWorker } from '../../src/roles/worker.js';
import { tempDir, testConfig, uniqueName, log, FIXTURES } from '../helpers/env.js';
import { post, send, form, auth, items } from '../helpers/http.js';
import { freePort, until } from '../helpers/net.js';

const PATH = '/api/zaikorobot.php';
const CATALOG = 'TNG-AI-01,藍,20,0,0\nMZR-SET-5,豆皿,4,0,0\nＴＮＧ－ＡＩ－０２,全角,1,0,0\n手ぬぐい-赤,赤,2,0,0\nUNL,無制限,,1,0\n';

let t: ReturnType<typeof tempDir>;
let cfg: Config;
let db: DB;
let queueName: string;
const running: RunningRole[] = [];
const redisUrl = inject('redisUrl');

async function boot(overrides: Record<string, any> = {}, opts: { worker?: boolean; redis?: string } = {}) {
  cfg = testConfig(t.dir, overrides);
  db = openDb(cfg.dataDir, 'stock');
  importCatalog(db, 'croft-zakka', parseCatalog(Buffer.from(CATALOG)));
  const receiver = await startReceiver(cfg, opts.redis ?? redisUrl, log, { queueName });
  running.push(receiver);
  if (opts.worker !== false) running.push(await startWorker(cfg, redisUrl, log, { queueName, dropPollMs: 100 }));
  return receiver.port!;
}
const stock = (code: string) => productView(db, 'croft-zakka', code)?.stock;
const uploadCount = () => db.prepare('SELECT COUNT(*) FROM uploads').pluck().get();

beforeEach(() => {
  t = tempDir();
  queueName = uniqueName('stock');
});
afterEach(async () => {
  while (running.length) await running.pop()!.close();
  db?.close();
  t.cleanup();
});

describe('POST /api/zaikorobot.php', () => {
  it('answers the UTF-8 fixture with NG no_product for the unknown code and applies the rest', async () => {
    const port = await boot();
    const res = await post(port, PATH, readFileSync(join(FIXTURES, 'uploads', 'basic-utf8.form')));
    expect(res.status).toBe(200);
    expect(res.text).toBe('NG\nno_product(product_code=NOPE-404)\n');
    expect([stock('TNG-AI-01'), stock('MZR-SET-5')]).toEqual([12, 0]);
  });

  it('applies the Shift_JIS fixture with and without a declared charset', async () => {
    const port = await boot();
    const body = readFileSync(join(FIXTURES, 'uploads', 'shift_jis.form'));
    expect((await post(port, PATH, body)).text).toBe('OK\n');
    expect([stock('ＴＮＧ－ＡＩ－０２'), stock('手ぬぐい-赤')]).toEqual([5, 7]);
    db.prepare('UPDATE products SET stock = 0').run();
    const declared = await post(port, PATH, body, 'application/x-www-form-urlencoded; charset=Shift_JIS');
    expect(declared.text).toBe('OK\n');
    expect(declared.headers['content-type']).toMatch(/Shift_JIS/);
    expect([stock('ＴＮＧ－ＡＩ－０２'), stock('手ぬぐい-赤')]).toEqual([5, 7]);
  });

  it('answers in the request charset: an unknown EUC-JP code comes back as EUC-JP bytes', async () => {
    const port = await boot();
    const code = iconv.encode('存在しない', 'euc-jp');
    const body = `${form(auth)}&product[0][product_code]=${[...code].map((b) => '%' + b.toString(16)).join('')}&product[0][stock]=1`;
    const res = await post(port, PATH, body, 'application/x-www-form-urlencoded; charset=EUC-JP');
    expect(res.body).toEqual(Buffer.concat([Buffer.from('NG\nno_product(product_code='), code, Buffer.from(')\n')]));
  });

  it('accepts multipart/form-data', async () => {
    const port = await boot();
    const b = 'zaikoBoundary';
    const parts = [...auth, ...items([['TNG-AI-01', '33']])]
      .map(([k, v]) => `--${b}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
      .join('');
    const res = await post(port, PATH, `${parts}--${b}--\r\n`, `multipart/form-data; boundary=${b}`);
    expect(res.text).toBe('OK\n');
    expect(stock('TNG-AI-01')).toBe(33);
  });

  it('reports invalid values as invalid_stock lines, other skips only in the record', async () => {
    const port = await boot();
    const res = await post(
      port,
      PATH,
      form([
        ...auth,
        ...items([
          ['TNG-AI-01', '+5'],
          ['UNL', '3'],
          ['MZR-SET-5', '１２'],
        ]),
      ]),
    );
    expect(res.text).toBe('NG\ninvalid_stock(product_code=TNG-AI-01)\n');
    expect(stock('MZR-SET-5')).toBe(12);
    const skips = new UploadStore(db)
      .skips({ limit: 10 })
      .map((s) => s.reason)
      .sort();
    expect(skips).toEqual(['invalid_stock', 'unlimited_stock']);
  });

  it('answers auth_error, no_query and bad_request, storing nothing', async () => {
    const port = await boot();
    expect((await post(port, PATH, form([['sys_id', 'zr-croft01'], ['sys_pass', 'wrong'], ...items([['TNG-AI-01', '1']])]))).text).toBe(
      'NG\nauth_error\n',
    );
    expect((await post(port, PATH, form([['sys_id', 'nobody'], ['sys_pass', 's3cret-pass'], ...items([['TNG-AI-01', '1']])]))).text).toBe(
      'NG\nauth_error\n',
    );
    expect((await post(port, PATH, form(auth))).text).toBe('NG\nno_query\n');
    expect((await post(port, PATH, `${form(auth)}&product[0][product_code]=%G1&product[0][stock]=1`)).text).toMatch(
      /^NG\nbad_request\(bad_escape at byte \d+\)\n$/,
    );
    expect(
      (
        await post(
          port,
          PATH,
          `${form(auth)}&product[0][product_code]=%FF%FE&product[0][stock]=1`,
          'application/x-www-form-urlencoded; charset=utf-8',
        )
      ).text,
    ).toBe('NG\nbad_request(undecodable_utf-8)\n');
    expect((await post(port, PATH, `--x\r\nbroken`, 'multipart/form-data; boundary=x')).text).toMatch(/^NG\nbad_request\(/);
    expect(uploadCount()).toBe(0);
    expect(stock('TNG-AI-01')).toBe(20);
  });

  it('answers 413 too_large beyond maxBytes or maxItems and stores nothing', async () => {
    const port = await boot({ receiver: { maxBytes: 2048, maxItems: 3 } });
    const big = await post(
      port,
      PATH,
      form([...auth, ...items(Array.from({ length: 100 }, (_, i) => [`C${i}`, '1'] as [string, string]))]),
    );
    expect([big.status, big.text]).toEqual([413, 'NG\ntoo_large\n']);
    const many = await post(
      port,
      PATH,
      form([
        ...auth,
        ...items([
          ['A', '1'],
          ['B', '1'],
          ['C', '1'],
          ['D', '1'],
        ]),
      ]),
    );
    expect([many.status, many.text]).toEqual([413, 'NG\ntoo_large\n']);
    expect(uploadCount()).toBe(0);
  });

  it('locks a (client, sys_id) pair out after the configured failures', async () => {
    const port = await boot({ receiver: { lockout: { failures: 3, window: '1m', duration: '1m' } } });
    const wrong = form([['sys_id', 'zr-croft01'], ['sys_pass', 'guess'], ...items([['TNG-AI-01', '1']])]);
    for (let i = 0; i < 3; i++) expect((await post(port, PATH, wrong)).text).toBe('NG\nauth_error\n');
    const right = await post(port, PATH, form([...auth, ...items([['TNG-AI-01', '1']])]));
    expect(right.text).toBe('NG\nauth_error\n');
    expect(stock('TNG-AI-01')).toBe(20);
  });

  it('answers 404 and 405 off the endpoint, and health routes', async () => {
    const port = await boot();
    expect((await send(port, 'GET', PATH)).status).toBe(405);
    expect((await post(port, '/other.php', 'x')).status).toBe(404);
    expect((await send(port, 'GET', '/healthz')).status).toBe(200);
    expect((await send(port, 'GET', '/readyz')).text).toBe('ready\n');
  });

  it('answers OK when waitMs runs out, and the upload is still applied', async () => {
    const port = await boot({ receiver: { waitMs: 100 } }, { worker: false });
    const res = await post(port, PATH, form([...auth, ...items([['TNG-AI-01', '8']])]));
    expect(res.text).toBe('OK\n');
    expect(stock('TNG-AI-01')).toBe(20);
    running.push(await startWorker(cfg, redisUrl, log, { queueName }));
    await until(() => stock('TNG-AI-01') === 8, 10_000, 'late apply');
  });

  it('with Redis down while storing: answers, and applies once a worker with Redis runs', async () => {
    const dead = `redis://127.0.0.1:${await freePort()}`;
    const port = await boot({ receiver: { waitMs: 300 } }, { worker: false, redis: dead });
    const res = await post(port, PATH, form([...auth, ...items([['MZR-SET-5', '9']])]));
    expect([res.status, res.text]).toEqual([200, 'OK\n']);
    expect(uploadCount()).toBe(1);
    running.push(await startWorker(cfg, redisUrl, log, { queueName })); // its start-up sweep enqueues the stored upload
    await until(() => stock('MZR-SET-5') === 9, 10_000, 'apply after Redis came back');
  });

  it('applies a stock file from the drop folder and moves it to done/ with a result', async () => {
    const drop = join(t.dir, 'drop');
    await boot({ receiver: { dropDir: drop } });
    const file = join(drop, 'croft-zakka', 'stock.csv');
    mkdirSync(join(drop, 'croft-zakka'), { recursive: true });
    writeFileSync(file, iconv.encode('商品コード,在庫数\r\n手ぬぐい-赤,11\r\nNOPE,1\r\n', 'cp932'));
    await until(() => existsSync(join(drop, 'croft-zakka', 'done', 'stock.csv.result')), 15_000, 'drop file done');
    expect(existsSync(file)).toBe(false);
    expect(stock('手ぬぐい-赤')).toBe(11);
    expect(readFileSync(join(drop, 'croft-zakka', 'done', 'stock.csv.result'), 'utf8')).toMatch(
      /applied 1, skipped 1\nunknown_code\(product_code=NOPE\)/,
    );
    writeFileSync(join(drop, 'croft-zakka', 'bad.csv'), 'only-one-column\n');
    await until(() => existsSync(join(drop, 'croft-zakka', 'failed', 'bad.csv.result')), 15_000, 'drop file failed');
  });
});
