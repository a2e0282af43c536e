// bench/console: server time of the console's heaviest pages with 100,000 mails in ledger.db and one
// 1,000,000-item upload in stock.db (seeded directly through the stores): the mail list (first page, a deep
// page by its keyset cursor, an order-number filter), a message page, an upload page (first and a deep page
// of items), the skips of a rare reason (/stock?reason=). Baselines in the same run: the upload's items read
// whole (what `uploads show` does), which a paged page must beat; the deep mail page read by OFFSET and the
// rare reason found by a scan (the index not used), as both were before keyset paging and the reason index.
// Median of ROUNDS requests each over loopback HTTP. Prints one line. Run: npm run bench:console
import { request } from 'node:http';
import { validateConfig } from '../dist/config/load.js';
import { openDb } from '../dist/db/open.js';
import { LedgerStore } from '../dist/ledger/store.js';
import { UploadStore } from '../dist/stock/store.js';
import { importCatalog } from '../dist/stock/catalog.js';
import { applyUpload } from '../dist/stock/apply/apply.js';
import { hashPassword } from '../dist/config/password.js';
import { startConsole } from '../dist/roles/console.js';
import { uploadView } from '../dist/queries/uploads.js';
import { silentLogger } from '../dist/observe/logger.js';
import { median, peakRssMb, tempDir, startRedis } from './lib.mjs';

const MAILS = Number(process.env.BENCH_MAILS ?? 100_000);
const ITEMS = Number(process.env.BENCH_ITEMS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const SHOP = 'bench';
const code = (i) => `P-${String(i).padStart(6, '0')}`;

function seed(dataDir) {
  const ledgerDb = openDb(dataDir, 'ledger', { synchronous: 'NORMAL' });
  const ledger = new LedgerStore(ledgerDb);
  const start = Date.now() - 7 * 86_400_000;
  for (let b = 0; b < MAILS; b += 1000) {
    ledger.acceptMany(
      Array.from({ length: Math.min(1000, MAILS - b) }, (_, k) => {
        const i = b + k;
        const order = i % 3 !== 2; // two thirds are order mails; every 10th order comes twice
        return {
          id: `Q${String(i).padStart(10, '0')}`,
          receivedAt: start + Math.floor((i * 7 * 86_400_000) / MAILS),
          clientAddress: '127.0.0.1',
          clientHelo: 'cart',
          authUser: null,
          mailFrom: 'order@bench.example.jp',
          headerFrom: 'order@bench.example.jp',
          subject: order ? `ご注文ありがとうございます ${i}` : `お知らせ ${i}`,
          messageId: `<${i}@cart>`,
          size: 2000,
          spoolPath: `/nonexistent/${i}`,
          shopId: SHOP,
          isOrder: order,
          orderNumber: order ? `O-${Math.floor(i / 2)}` : null,
          items: order ? [{ code: code(i % ITEMS), quantity: 1 }] : [],
          flags: [],
          deliverTo: [`buyer${i}@example.jp`],
          forwardTo: order ? 'import@zr.example' : null,
          claim: order ? `order:O-${Math.floor(i / 2)}` : null,
        };
      }),
    );
  }
  ledgerDb.prepare("UPDATE message_recipients SET status = 'sent', attempts = 1, response = '250 2.0.0 Ok'").run();
  ledgerDb.prepare("UPDATE messages SET forward = 'sent' WHERE forward = 'queued'").run();
  ledgerDb.close();
  const stockDb = openDb(dataDir, 'stock');
  importCatalog(
    stockDb,
    SHOP,
    Array.from({ length: ITEMS }, (_, i) => ({
      code: code(i),
      name: `item ${i}`,
      stock: 5,
      unlimited: i % 100 === 0 ? 1 : 0,
      usesCodes: 0,
    })),
  );
  const id = new UploadStore(stockDb).insert(
    SHOP,
    { source: 'http', charset: 'utf-8' },
    // Every 50th code unknown (a common reason), every 20,000th value invalid (a rare one).
    Array.from({ length: ITEMS }, (_, i) => ({
      code: i % 50 === 0 ? `NOPE-${i}` : code(i),
      rawStock: i % 20_000 === 7 ? 'x' : String(i % 1000),
    })),
  );
  applyUpload(stockDb, id);
  stockDb.close();
  // The cursor of the middle of the mail list (newest first): what the console's ?after= holds there.
  const middle = Math.floor(MAILS / 2);
  const deepCursor = `${start + Math.floor((middle * 7 * 86_400_000) / MAILS)}.Q${String(middle).padStart(10, '0')}`;
  return { uploadId: id, message: `Q${String(MAILS - 1).padStart(10, '0')}`, deepCursor, deepOffset: MAILS - 1 - middle };
}

function get(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0, bytes, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function login(port) {
  const page = await new Promise((resolve) =>
    request({ host: '127.0.0.1', port, path: '/login' }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve(text));
    }).end(),
  );
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)[1];
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/login',
        method: 'POST',
        headers: { cookie: `zb_login=${csrf}`, 'content-type': 'application/x-www-form-urlencoded' },
      },
      (res) => {
        res.resume();
        resolve(/zb_session=([^;]+)/.exec(String(res.headers['set-cookie']))[1]);
      },
    );
    req.end(`name=bench&password=bench-pass&csrf=${csrf}`);
  });
}

const t = tempDir('zb-bench-console-');
const redis = await startRedis();
let role;
try {
  const t0 = performance.now();
  const { uploadId, message, deepCursor, deepOffset } = seed(t.dir);
  const seedMs = Math.round(performance.now() - t0);
  const cfg = validateConfig(
    {
      dataDir: t.dir,
      instance: 'bench',
      redis: { url: redis.url },
      console: { port: 0, users: [{ name: 'bench', password: await hashPassword('bench-pass') }] },
      shops: [{ id: SHOP, forwardTo: 'import@zr.example', zaikoRobot: { userId: 'b', password: 'b' } }],
    },
    t.dir,
    {},
  );
  role = await startConsole(cfg, redis.url, silentLogger);
  const cookie = `zb_session=${await login(role.port)}`;
  const pages = {
    mail_list: '/mail',
    mail_list_deep: `/mail?after=${deepCursor}`,
    mail_order: '/mail?order=O-40000',
    message: `/mail/${message}`,
    upload: `/uploads/${uploadId}`,
    upload_page_1000: `/uploads/${uploadId}?page=1000`,
    stock_rare_reason: '/stock?reason=invalid_stock',
  };
  const times = Object.fromEntries(Object.keys(pages).map((k) => [k, []]));
  const baseline = [];
  const offsetBaseline = [];
  const scanBaseline = [];
  const stockDb = openDb(t.dir, 'stock', { readonly: true });
  const store = new UploadStore(stockDb);
  const ledgerDb = openDb(t.dir, 'ledger', { readonly: true });
  const ledger = new LedgerStore(ledgerDb);
  // The reason filter as it ran before its index: `+i.reason` keeps SQLite from using an index on it.
  const scan = stockDb.prepare(
    `SELECT i.upload_id, i.seq, u.shop_id, i.code, i.raw_stock, i.reason, u.received_at
    FROM upload_items i JOIN uploads u ON u.id = i.upload_id
    WHERE i.outcome = 'skipped' AND +i.reason = ? ORDER BY i.upload_id DESC, i.seq DESC LIMIT 51`,
  );
  for (const path of Object.values(pages)) {
    const r = await get(role.port, path, { cookie });
    if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
  }
  for (let r = 0; r < ROUNDS; r++) {
    // interleaved: every page once per round
    for (const [name, path] of Object.entries(pages)) times[name].push((await get(role.port, path, { cookie })).ms);
    const b0 = performance.now();
    uploadView(store, uploadId);
    baseline.push(performance.now() - b0);
    const o0 = performance.now();
    ledger.list({ limit: 51, offset: deepOffset });
    offsetBaseline.push(performance.now() - o0);
    const s0 = performance.now();
    scan.all('invalid_stock');
    scanBaseline.push(performance.now() - s0);
  }
  stockDb.close();
  ledgerDb.close();
  const fig = Object.entries(times)
    .map(([k, v]) => `${k}_ms=${median(v).toFixed(1)}`)
    .join(' ');
  const worst = Math.max(...Object.values(times).map(median));
  console.log(
    `console: mails=${MAILS} upload_items=${ITEMS} rounds=${ROUNDS} ${fig} baseline_upload_all_items_ms=${median(baseline).toFixed(1)} ` +
      `baseline_mail_deep_by_offset_ms=${median(offsetBaseline).toFixed(1)} ` +
      `baseline_rare_reason_by_scan_ms=${median(scanBaseline).toFixed(1)} ` +
      `worst_median_ms=${worst.toFixed(1)} under_100ms=${worst < 100 ? 'yes' : 'NO'} mail_and_reason_under_50ms=${
        Math.max(median(times.mail_list), median(times.mail_list_deep), median(times.stock_rare_reason)) < 50 ? 'yes' : 'NO'
      } seed_ms=${seedMs} peak_rss_mb=${peakRssMb()}`,
  );
} finally {
  await role?.close();
  redis.stop();
  t.cleanup();
}
