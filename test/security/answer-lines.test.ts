// One item is one line of the answer (design.md, "Second round"), against the real receiver and worker
// over real HTTP (issue 11): a control byte or "%" in an echoed product code is written %XX (upper-case hex
// of its byte in the answer's charset), and a bad_request(…) text is ASCII with the same escapes.
import { describe, it, expect, beforeEach, afterEach, inject } from 'vitest';
import iconv from 'iconv-lite';
import { openDb, type DB } from '../../src/db/open.js';
import { importCatalog, parseCatalog } from '../../src/stock/catalog.js';
import { startReceiver } from '../../src/roles/receiver.js';
import { startWorker } from '../../src/roles/worker.js';
import { tempDir, testConfig, uniqueName, log, stopAll } from '../helpers/env.js';
import { post, form, auth, items } from '../helpers/http.js';

const PATH = '/api/zaikorobot.php';
let t: ReturnType<typeof tempDir>;
let db: DB;
const running: { close(): unknown }[] = [];
afterEach(async () => {
  await stopAll(...running.splice(0));
  db?.close();
  t.cleanup();
});
beforeEach(() => {
  t = tempDir();
});

async function boot() {
  const cfg = testConfig(t.dir, { receiver: { waitMs: 15_000 } });
  db = openDb(cfg.dataDir, 'stock');
  importCatalog(db, 'croft-zakka', parseCatalog(Buffer.from('TNG-AI-01,藍,20,0,0\n')));
  const queueName = uniqueName('stock');
  running.push(await startReceiver(cfg, inject('redisUrl'), log, { queueName }));
  running.push(await startWorker(cfg, inject('redisUrl'), log, { queueName, dropPollMs: 100 }));
  return (running[0] as { port: number }).port;
}

describe('answer lines', () => {
  it('writes CR, LF, other controls and "%" of an echoed code as %XX: one line per item', async () => {
    const port = await boot();
    const res = await post(
      port,
      PATH,
      form([
        ...auth,
        ...items([
          ['A\r\nOK', '1'],
          ['B\u0000\u001b[2J\u007f', '2'],
          ['100%', '3'],
          ['C\u2028D', '4'],
          ['TNG-AI-01', 'x\ny'],
        ]),
      ]),
    );
    expect(res.status).toBe(200);
    expect(res.text).toBe(
      [
        'NG',
        'no_product(product_code=A%0D%0AOK)',
        'no_product(product_code=B%00%1B[2J%7F)',
        'no_product(product_code=100%25)',
        'no_product(product_code=C%E2%80%A8D)',
        'invalid_stock(product_code=TNG-AI-01)',
        '',
      ].join('\n'),
    );
  }, 30_000);

  it('escapes in the request charset (Shift_JIS): the code stays Shift_JIS, the control byte is %0A', async () => {
    const port = await boot();
    const code = iconv.encode('手ぬぐい\n赤', 'cp932');
    const esc = (b: Buffer) => [...b].map((x) => '%' + x.toString(16).toUpperCase().padStart(2, '0')).join('');
    const body = `${form(auth)}&product%5B0%5D%5Bproduct_code%5D=${esc(code)}&product%5B0%5D%5Bstock%5D=1`;
    const res = await post(port, PATH, body, 'application/x-www-form-urlencoded; charset=Shift_JIS');
    expect(
      res.body.equals(
        Buffer.concat([
          Buffer.from('NG\nno_product(product_code='),
          iconv.encode('手ぬぐい', 'cp932'),
          Buffer.from('%0A'),
          iconv.encode('赤', 'cp932'),
          Buffer.from(')\n'),
        ]),
      ),
    ).toBe(true);
  }, 30_000);

  it('bad_request(…) texts are one ASCII line, a long form key cut to 64 characters', async () => {
    const port = await boot();
    const key = `a\r\nOK\n%${'k'.repeat(10_000)}`;
    const res = await post(port, PATH, `${form(auth)}&product[${encodeURIComponent(key)}][stock]=1`);
    expect(res.text).toBe(`NG\nbad_request(missing_product_code(product[a%0D%0AOK%0A%25${'k'.repeat(57)}...]))\n`);
    const latin = await post(port, PATH, `${form(auth)}&product[%FF%0A][stock]=1`);
    expect(latin.text).toBe('NG\nbad_request(missing_product_code(product[%FF%0A]))\n');
  }, 30_000);
});
