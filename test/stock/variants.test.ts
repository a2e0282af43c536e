// Variants (在庫管理コード) end to end with real processes: the catalog CLI, `start` (private Redis, receiver,
// stock worker, relay), real HTTP uploads and order mail over SMTP, and the why-not-synced commands.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import iconv from 'iconv-lite';
import { tempDir, SHOP } from '../helpers/env.js';
import { run, runAsync } from '../helpers/cli.js';
import { until } from '../helpers/net.js';
import { post, form, auth, items } from '../helpers/http.js';
import { sendMail } from '../helpers/smtp.js';

const CATALOG =
  'product_code,name,stock,unlimited,uses_stock_management_code,stock_code\r\n' +
  'MUG,マグ,1,0,0,\r\n' +
  'TS,Tシャツ M,4,0,1,TS-M\r\n' +
  'TS,Tシャツ S,3,0,1,TS-S\r\n';

let t: ReturnType<typeof tempDir>;
let config: string;

function writeConfig(name = 'zb.yaml', dataDir = './data') {
  const file = join(t.dir, name);
  writeFileSync(file, stringify({ dataDir, relay: { port: 0 }, receiver: { port: 0 }, upstream: { outbox: './outbox' }, shops: [SHOP] }));
  return file;
}
const zb = (...args: string[]) => run([...args, '--config', config]);
const json = (...args: string[]) => {
  const r = zb(...args, '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};
function importCsv(text: string | Buffer, cfg = config) {
  const csv = join(t.dir, `catalog-${Math.random().toString(36).slice(2)}.csv`);
  writeFileSync(csv, text);
  return { csv, ...run(['stock', 'import', csv, '--config', cfg]) };
}
const stockOf = (code: string) => json('stock', 'show', code).stock;

/** An order mail of the test shop's template naming `code` × `quantity`. */
function orderMail(order: string, code: string, quantity = 1): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return [
    `From: ${SHOP.senders[0]}`,
    'To: customer@example.net',
    `Subject: =?UTF-8?B?${b64(`ご注文ありがとうございます（注文番号：${order}）`)}?=`,
    `Message-ID: <${order}@cart.example>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: base64',
    '',
    b64(`注文番号：${order}\n商品コード: ${code}\n数量: ${quantity}\n`),
    '',
  ].join('\r\n');
}

beforeEach(() => {
  t = tempDir();
  config = writeConfig();
});
afterEach(() => t.cleanup());

describe('variants through start', () => {
  it('sets a variant by its 在庫管理コード, answers the product code as no_product, and explains it', async () => {
    expect(importCsv(CATALOG).stdout).toBe('3 products imported into shop croft-zakka\n');
    const proc = runAsync(['start', '--config', config]);
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    try {
      await until(() => err.includes('zaiko-bridge started') && err.includes('stock worker running'), 20_000, 'start');
      const port = JSON.parse(err.split('\n').find((l) => l.includes('receiver listening'))!).port;
      const body = form([
        ...auth,
        ...items([
          ['TS-S', '5'],
          ['TS', '9'],
          ['MUG', '2'],
          ['NOPE', '1'],
        ]),
      ]);
      const res = await post(port, '/api/zaikorobot.php', body);
      expect(res.text).toBe('NG\nno_product(product_code=TS)\nno_product(product_code=NOPE)\n');
      expect([stockOf('TS-S'), stockOf('TS-M'), stockOf('MUG')]).toEqual([5, 4, 2]);
      // The cart's order mail naming the M size lowers that variant, through the relay and the stock worker.
      const smtpPort = JSON.parse(err.split('\n').find((l) => l.includes('relay listening'))!).port;
      const sent = await sendMail({
        port: smtpPort,
        from: SHOP.senders[0],
        to: ['customer@example.net'],
        raw: orderMail('A-2001', 'TS-M'),
      });
      expect(sent.response).toMatch(/^250 /);
      await until(() => stockOf('TS-M') === 3, 20_000, 'the order to lower TS-M');
      expect([stockOf('TS-S'), stockOf('MUG')]).toEqual([5, 2]);
    } finally {
      const exited = new Promise((r) => proc.on('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }

    const skipped = json('stock', 'skipped', '--reason', 'variant_product').skips;
    expect(skipped.map((s: any) => [s.product_code, s.reason, s.rawStock])).toEqual([['TS', 'variant_product', '9']]);
    expect(zb('stock', 'skipped', '--reason', 'variant_product').stdout).toMatch(/TS +variant_product/);

    const product = json('stock', 'show', 'TS');
    expect(product).toMatchObject({ product_code: 'TS', stock_code: null, stock: null, uses_stock_management_code: true });
    expect(product.variants).toEqual([
      { stock_code: 'TS-M', name: 'Tシャツ M', stock: 3, unlimited: false },
      { stock_code: 'TS-S', name: 'Tシャツ S', stock: 5, unlimited: false },
    ]);
    expect(product.skips.map((s: any) => s.reason)).toEqual(['variant_product']);
    const variant = json('stock', 'show', 'TS-S');
    expect(variant).toMatchObject({ product_code: 'TS', stock_code: 'TS-S', name: 'Tシャツ S', stock: 5, variants: [] });
    expect(variant.changes.map((c: any) => [c.source, c.oldStock, c.newStock])).toEqual([
      ['upload', 3, 5],
      ['import', null, 3],
    ]);
    const order = json('stock', 'show', 'TS-M').changes[0];
    expect(order).toMatchObject({ source: 'order', orderNumber: 'A-2001', oldStock: 4, newStock: 3 });
    const feed = json('stock', 'changes', '--after', '0').changes.filter((c: any) => c.source !== 'import');
    expect(feed.map((c: any) => [c.code, c.productCode, c.source])).toEqual([
      ['TS-S', 'TS', 'upload'],
      ['MUG', 'MUG', 'upload'],
      ['TS-M', 'TS', 'order'],
    ]);
    expect(json('stock', 'show', 'MUG')).toMatchObject({ product_code: 'MUG', stock_code: null, stock: 2, variants: [] });
    const text = zb('stock', 'show', 'TS').stdout;
    expect(text).toContain('stock kept per variant');
    expect(text).toMatch(/TS-M +3 +Tシャツ M/);
    expect(zb('stock', 'show', 'TS-M').stdout).toContain('variant (在庫管理コード) of TS');
  });
});

describe('mail check', () => {
  it('marks an item naming a product with variants and says how to fix the template', () => {
    importCsv(CATALOG);
    const eml = join(t.dir, 'order.eml');
    writeFileSync(eml, orderMail('A-1001', 'TS'));
    const check = json('mail', 'check', eml);
    expect(check.items).toEqual([{ code: 'TS', quantity: 1, known: true, variantProduct: true }]);
    expect(check.reason).toContain('注文受付メール');
    expect(check.reason).toContain('基本設定＞メールテンプレート＞注文受付メール');
    expect(zb('mail', 'check', eml).stdout).toContain('a product with variants');
    writeFileSync(eml, orderMail('A-1002', 'TS-M'));
    expect(json('mail', 'check', eml).items).toEqual([{ code: 'TS-M', quantity: 1, known: true, variantProduct: false }]);
  });
});

describe('catalog with stock_code', () => {
  it('round-trips export → import byte for byte, and writes the column only when the shop has variants', () => {
    importCsv(CATALOG);
    const first = zb('stock', 'export').stdout;
    expect(first).toBe(CATALOG);
    const other = writeConfig('other.yaml', './other');
    expect(importCsv(first, other).code).toBe(0);
    expect(run(['stock', 'export', '--config', other]).stdout).toBe(first);
    // The Japanese header is accepted; Shift_JIS too.
    const sjis = writeConfig('sjis.yaml', './sjis');
    const jaHeader = first.replace('stock_code', '在庫管理コード');
    expect(importCsv(iconv.encode(jaHeader, 'shift_jis'), sjis).code).toBe(0);
    expect(run(['stock', 'export', '--config', sjis]).stdout).toBe(first);

    const plain = writeConfig('plain.yaml', './plain');
    importCsv('MUG,マグ,1,0,0\r\nOLD,古い,,1,1\r\n', plain);
    expect(run(['stock', 'export', '--config', plain]).stdout).toBe(
      'product_code,name,stock,unlimited,uses_stock_management_code\r\nMUG,マグ,1,0,0\r\nOLD,古い,,1,1\r\n',
    );
  });

  it.each([
    [
      'a product row beside its variant rows',
      'TS,Tシャツ,1,0,0,\nTS,Tシャツ S,3,0,1,TS-S\n',
      ':3: product TS has a row without stock_code on line 2',
    ],
    [
      'variant rows before a product row',
      'TS,Tシャツ S,3,0,1,TS-S\nTS,Tシャツ,1,0,0,\n',
      ':3: product TS has variants (stock_code) from line 2',
    ],
    ['a stock_code used twice', 'TS,S,3,0,1,X-1\nPO,S,3,0,1,X-1\n', ':3: stock_code X-1 already on line 2'],
    [
      'a stock_code that is a product code',
      'MUG,マグ,1,0,0,\nTS,Tシャツ S,3,0,1,MUG\n',
      ':3: stock_code MUG is the product_code on line 2',
    ],
    [
      'a product code that is a stock_code',
      'TS,Tシャツ S,3,0,1,MUG\nMUG,マグ,1,0,0,\n',
      ':3: product_code MUG is the stock_code (在庫管理コード) on line 2',
    ],
    ['a stock_code equal to its product code', 'TS,Tシャツ S,3,0,1,TS\n', ':2: stock_code TS equals its product_code'],
  ])('refuses %s, naming the lines, and imports nothing', (_what, rows, message) => {
    const { csv, code, stderr } = importCsv('product_code,name,stock,unlimited,uses_stock_management_code,stock_code\n' + rows);
    expect(code).toBe(1);
    expect(stderr).toContain(`${csv}${message}`);
    expect(stderr).toContain('nothing imported');
    expect(zb('stock', 'export').stdout).toBe('product_code,name,stock,unlimited,uses_stock_management_code\r\n');
  });

  it('refuses an import that would leave stock.db with a variant without its product, naming the line', () => {
    importCsv(CATALOG);
    const { csv, code, stderr } = importCsv('MUG,マグ,1,0,0\nTS,Tシャツ,1,0,0\n');
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`${csv}:2: stock.db keeps TS-[SM] as a variant \\(stock_code\\) of TS`));
    expect(zb('stock', 'export').stdout).toBe(CATALOG);
    const moved = importCsv('product_code,name,stock,unlimited,uses_stock_management_code,stock_code\nPO,S,1,0,1,TS-S\nPO,M,1,0,1,TS-M\n');
    expect(moved.stderr).toContain(`${moved.csv}:2: TS-S was a variant of TS in stock.db: TS would be left without variants`);
  });
});
