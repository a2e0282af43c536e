// Hostile and racing uploads: every request gets a well-formed answer or a 4xx, the newest upload
// always wins, and the database stays consistent (checked by invariants after the run).
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { openDb, type DB } from '../../src/db/open.js';
import { importCatalog } from '../../src/stock/catalog.js';
import { startReceiver } from '../../src/roles/receiver.js';
import { startWorker } from '../../src/roles/worker.js';
import { tempDir, testConfig, uniqueName, log } from '../helpers/env.js';
import { post, form, auth, items } from '../helpers/http.js';
import { prng } from '../helpers/random.js';
import { until } from '../helpers/net.js';

const FUZZ_REQUESTS = Number(process.env.RELIABILITY_FUZZ ?? 300);
const SEED = Number(process.env.RELIABILITY_SEED ?? 20261126);
const PATH = '/api/zaikorobot.php';
const redisUrl = inject('redisUrl');
const ANSWER_LINE =
  /^(OK|NG|auth_error|no_query|too_large|unavailable|bad_request\([^\n]*\)|(no_product|invalid_stock|unlimited_stock|stock_management_code|stale|duplicate_in_upload)\(product_code=[^\n]*\))$/;

let t: ReturnType<typeof tempDir>;
let cfg: Config;
let db: DB;
let port: number;
const roles: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  t = tempDir();
  cfg = testConfig(t.dir, { receiver: { maxBytes: 256 * 1024, maxItems: 500, waitMs: 2000, lockout: { failures: 1000 } } });
  db = openDb(cfg.dataDir, 'stock');
  importCatalog(
    db,
    'croft-zakka',
    Array.from({ length: 50 }, (_, i) => ({ code: `C${i}`, name: '', stock: 1, unlimited: i === 7 ? 1 : 0, usesCodes: i === 8 ? 1 : 0 })),
  );
  const queueName = uniqueName('stock');
  const receiver = await startReceiver(cfg, redisUrl, log, { queueName });
  port = receiver.port!;
  roles.push(receiver, await startWorker(cfg, redisUrl, log, { queueName }));
});
afterAll(async () => {
  for (const r of roles.reverse()) await r.close();
  db.close();
  t.cleanup();
});

function hostileBody(r: ReturnType<typeof prng>): { body: Buffer; type: string } {
  const stockValues = ['1', '-1', '+5', '5.0', '１２', '\u3000 3', '2147483648', '99999999999999999999', '', 'NaN', '0x10', '1e3', '７'];
  const codes = ['C1', 'C7', 'C8', "' OR 1=1 --", "C1'); DROP TABLE products;--", 'Ｃ１', '%', '', 'x'.repeat(2000), 'C2'];
  const types = [
    'application/x-www-form-urlencoded',
    'application/x-www-form-urlencoded; charset=shift_jis',
    'application/x-www-form-urlencoded; charset=euc-jp',
    'application/x-www-form-urlencoded; charset=klingon',
    'multipart/form-data; boundary=zz',
    'multipart/form-data',
    'text/plain',
    '',
  ];
  switch (r.int(6)) {
    case 0:
      return { body: r.bytes(r.int(3000)), type: r.pick(types) };
    case 1: {
      const badEscape = r.pick(['', 'Z', 'ZZ', '4', '%%']);
      return { body: Buffer.from(`${form(auth)}&product[0][product_code]=%${badEscape}&product[0][stock]=1`), type: types[0] };
    }
    case 2:
      return { body: Buffer.from(`${form(auth)}&${'k'.repeat(r.int(300_000))}=1`), type: types[0] };
    case 3: {
      const n = r.int(40) + 1;
      const list = Array.from({ length: n }, () => [r.pick(codes), r.pick(stockValues)] as [string, string]);
      return { body: Buffer.from(form([...auth, ...items(list)])), type: r.pick(types.slice(0, 3)) };
    }
    case 4: {
      const tail = r.pick(['', 'garbage', 'Content-Disposition: form-data\r\n\r\nx']);
      const body = `--zz\r\nContent-Disposition: form-data; name="sys_id"\r\n\r\nzr-croft01\r\n--zz\r\n${tail}`;
      return { body: Buffer.from(body), type: 'multipart/form-data; boundary=zz' };
    }
    default:
      return {
        body: Buffer.from(
          form([
            ['sys_id', r.pick(['zr-croft01', 'nobody', ''])],
            ['sys_pass', r.pick(['s3cret-pass', 'x', ''])],
            ...items([[r.pick(codes), r.pick(stockValues)]]),
          ]),
        ),
        type: types[0],
      };
  }
}

describe('hostile uploads', () => {
  it(`${FUZZ_REQUESTS} seeded random requests (seed ${SEED}) all get a well-formed answer; invariants hold`, async () => {
    const r = prng(SEED);
    const statuses = new Map<number, number>();
    for (let i = 0; i < FUZZ_REQUESTS; i++) {
      const { body, type } = hostileBody(r);
      const res = await post(port, PATH, body, type);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect([200, 413], `request ${i}`).toContain(res.status);
      const lines = res.text.replace(/\n$/, '').split('\n');
      expect(['OK', 'NG'], `request ${i}: ${res.text.slice(0, 80)}`).toContain(lines[0]);
      if (lines[0] === 'NG') expect(lines.length).toBeGreaterThan(1);
      for (const line of lines) expect(line.length < 3000 && ANSWER_LINE.test(line), `request ${i}: ${line.slice(0, 80)}`).toBe(true);
    }
    await until(
      () => db.prepare("SELECT COUNT(*) FROM uploads WHERE status = 'stored'").pluck().get() === 0,
      20_000,
      'every stored upload applied',
    );
    // Invariants: every item of an applied upload has an outcome; counts add up; stock within range;
    // unlimited and variant products never touched; no product created by an upload.
    expect(
      db
        .prepare(
          `SELECT COUNT(*) FROM upload_items i JOIN uploads u ON u.id = i.upload_id
      WHERE u.status = 'applied' AND i.outcome IS NULL`,
        )
        .pluck()
        .get(),
    ).toBe(0);
    expect(db.prepare('SELECT COUNT(*) FROM uploads WHERE applied_count + skipped_count != item_count').pluck().get()).toBe(0);
    expect(db.prepare('SELECT COUNT(*) FROM products WHERE stock < 0 OR stock > 2147483647').pluck().get()).toBe(0);
    expect(db.prepare("SELECT stock, last_upload_id FROM products WHERE code IN ('C7', 'C8') ORDER BY code").all()).toEqual([
      { stock: null, last_upload_id: 0 },
      { stock: 1, last_upload_id: 0 },
    ]);
    expect(db.prepare('SELECT COUNT(*) FROM products').pluck().get()).toBe(50);
    const uploads = db.prepare('SELECT COUNT(*) FROM uploads').pluck().get();
    console.log(
      `hostile-uploads: requests=${FUZZ_REQUESTS} seed=${SEED} statuses=${JSON.stringify(Object.fromEntries(statuses))} ` +
        `uploads=${uploads} inconsistencies=0`,
    );
  });

  it('20 uploads racing for the same products: the newest upload wins, every time', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        post(
          port,
          PATH,
          form([
            ...auth,
            ...items([
              ['C1', String(100 + i)],
              ['C2', String(200 + i)],
            ]),
          ]),
        ),
      ),
    );
    for (const a of answers) expect(a.text).toBe('OK\n');
    await until(() => db.prepare("SELECT COUNT(*) FROM uploads WHERE status = 'stored'").pluck().get() === 0, 20_000, 'all applied');
    const newest = db.prepare("SELECT MAX(upload_id) FROM upload_items WHERE code = 'C1'").pluck().get() as number;
    const expected = db.prepare('SELECT code, stock FROM upload_items WHERE upload_id = ? ORDER BY seq').all(newest);
    expect(db.prepare("SELECT code, stock FROM products WHERE code IN ('C1', 'C2') ORDER BY code").all()).toEqual(expected);
    expect(db.prepare("SELECT last_upload_id FROM products WHERE code = 'C1'").pluck().get()).toBe(newest);
  });
});
