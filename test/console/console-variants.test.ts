// The console shows variants (在庫管理コード): the search lists them with their product, a product's page
// its variants, a variant's page its product, and variant_product is explained in Japanese and English.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { request } from 'node:http';
import { consoleLogin } from '../helpers/console.js';
import { tempDir, testConfig, log } from '../helpers/env.js';
import { hashPassword } from '../../src/config/password.js';
import { startConsole } from '../../src/roles/console.js';
import type { RunningRole } from '../../src/roles/receiver.js';
import { openDb } from '../../src/db/open.js';
import { importCatalog, parseCatalog } from '../../src/stock/catalog.js';
import { UploadStore } from '../../src/stock/store.js';
import { applyUpload } from '../../src/stock/apply/apply.js';

const redisUrl = inject('redisUrl');
let t: ReturnType<typeof tempDir>;
let role: RunningRole;
let cookie = '';

function get(path: string, lang = 'en') {
  return new Promise<{ status: number; headers: Record<string, any>; text: string }>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: role.port, method: 'GET', path, headers: { cookie, 'accept-language': lang } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  t = tempDir();
  const cfg = testConfig(t.dir, { console: { port: 0, users: [{ name: 'sato', password: await hashPassword('right-one') }] } });
  const db = openDb(t.dir, 'stock');
  const csv = 'product_code,name,stock,unlimited,uses_stock_management_code,stock_code\nTS,Tシャツ M,4,0,1,TS-M\nTS,Tシャツ S,3,0,1,TS-S\n';
  importCatalog(db, 'croft-zakka', parseCatalog(Buffer.from(csv)));
  const store = new UploadStore(db);
  applyUpload(db, store.insert('croft-zakka', { source: 'http', charset: 'utf-8' }, [{ code: 'TS', rawStock: '9' }]));
  db.close();
  role = await startConsole(cfg, redisUrl, log);
  cookie = await consoleLogin(role.port!, 'sato', 'right-one');
});
afterAll(async () => {
  await role?.close();
  t?.cleanup();
});

describe('console: variants', () => {
  it('lists variants in the stock search with a link to their product', async () => {
    const page = await get('/stock?code=TS');
    expect(page.status).toBe(200);
    expect(page.text).toContain('kept per variant');
    expect(page.text).toMatch(/Variant \(在庫管理コード\) of <a href="\/stock\/croft-zakka\/TS">TS<\/a>/);
  });

  it("shows a product's variants and explains variant_product, in English and Japanese", async () => {
    const en = await get('/stock/croft-zakka/TS');
    expect(en.text).toContain('Variants (在庫管理コード)');
    expect(en.text).toContain('<a href="/stock/croft-zakka/TS-M">TS-M</a>');
    expect(en.text).toContain('variant_product');
    expect(en.text).toContain('在庫管理コード in zaiko Robot as its product codes');
    const ja = await get('/stock/croft-zakka/TS', 'ja');
    expect(ja.text).toContain('バリエーション (在庫管理コード)');
    expect(ja.text).toContain('各バリエーションの在庫管理コードを商品コードとして登録してください');
  });

  it('shows a variant with its product', async () => {
    const page = await get('/stock/croft-zakka/TS-S');
    expect(page.text).toMatch(/<a href="\/stock\/croft-zakka\/TS">TS<\/a> Tシャツ M/);
    expect(page.text).toContain('TS-S');
  });
});
