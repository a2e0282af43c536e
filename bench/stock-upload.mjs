// bench/stock-upload: 100,000 products, one upload of 100,000 items POSTed over HTTP (request → answer),
// and the apply step alone against a naive item-by-item baseline on the same data, interleaved, median of 3;
// the same apply when half of the codes are variants (在庫管理コード, two per product), against plain products;
// and the form parse of a 32 MiB body, a normal one next to the worst of several hostile shapes (issue 11).
// Prints one line of figures. Run: npm run bench:stock
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { validateConfig } from '../dist/config/load.js';
import { openDb } from '../dist/db/open.js';
import { importCatalog } from '../dist/stock/catalog.js';
import { UploadStore } from '../dist/stock/store.js';
import { applyUpload } from '../dist/stock/apply/apply.js';
import { startReceiver } from '../dist/roles/receiver.js';
import { parseUrlencoded, parseMultipart } from '../dist/stock/receive/form.js';
import { readUploadRequest } from '../dist/stock/receive/upload-request.js';
import { startWorker } from '../dist/roles/worker.js';
import { silentLogger } from '../dist/observe/logger.js';
import { median, peakRssMb, tempDir, startRedis, postUpload } from './lib.mjs';

const N = Number(process.env.BENCH_ITEMS ?? 100_000);
const ROUNDS = 3;
const SMALL = Number(process.env.BENCH_SMALL_UPLOADS ?? 200);
const SHOP = 'bench';
const code = (i) => `P-${String(i).padStart(6, '0')}`;
const catalog = Array.from({ length: N }, (_, i) => ({
  code: code(i),
  name: `item ${i}`,
  stock: 10,
  unlimited: i % 100 === 0 ? 1 : 0,
  usesCodes: 0,
}));
// The same codes, half of them variants (在庫管理コード) of products with two sizes each: the upload is identical.
const variantCatalog = catalog.map((p, i) =>
  i < N / 2 ? p : { ...p, code: `T-${String(Math.floor(i / 2)).padStart(6, '0')}`, stockCode: p.code, usesCodes: 1 },
);
const uploadItems = (round) =>
  Array.from({ length: N }, (_, i) => ({ code: i % 50 === 0 ? `NOPE-${i}` : code(i), rawStock: String((i * 7 + round) % 1000) }));

/** What a per-row PHP endpoint does: select, update, insert change, update item — one item at a time. */
function naiveApply(db, uploadId) {
  const items = db.prepare('SELECT seq, code, stock FROM upload_items WHERE upload_id = ? ORDER BY seq').all(uploadId);
  const find = db.prepare('SELECT stock, unlimited, uses_stock_codes, last_upload_id FROM products WHERE shop_id = ? AND code = ?');
  const setStock = db.prepare('UPDATE products SET stock = ?, last_upload_id = ?, updated_at = ? WHERE shop_id = ? AND code = ?');
  const change = db.prepare(
    `INSERT INTO stock_changes (shop_id, code, product_code, old_stock, new_stock, source, upload_id, changed_at)
    VALUES (?, ?, ?, ?, ?, 'upload', ?, ?)`,
  );
  const mark = db.prepare('UPDATE upload_items SET outcome = ?, reason = ? WHERE upload_id = ? AND seq = ?');
  db.transaction(() => {
    const now = Date.now();
    for (const it of items) {
      const p = find.get(SHOP, it.code);
      const reason =
        it.stock === null
          ? 'invalid_stock'
          : !p
            ? 'unknown_code'
            : p.unlimited
              ? 'unlimited_stock'
              : p.uses_stock_codes
                ? 'stock_management_code'
                : p.last_upload_id > uploadId
                  ? 'stale'
                  : null;
      if (reason) {
        mark.run('skipped', reason, uploadId, it.seq);
        continue;
      }
      setStock.run(it.stock, uploadId, now, SHOP, it.code);
      if (p.stock !== it.stock) change.run(SHOP, it.code, it.code, p.stock, it.stock, uploadId, now);
      mark.run('applied', null, uploadId, it.seq);
    }
    db.prepare("UPDATE uploads SET status = 'applied' WHERE id = ?").run(uploadId);
  })();
}

/** 32 MiB bodies: a normal upload (items as zaiko Robot sends them) and shapes meant to make a parser rescan. */
const PARSE_BYTES = 32 * 1024 * 1024;
const fill = (head, unit, tail = '') => {
  const units = Math.floor((PARSE_BYTES - head.length - tail.length) / unit.length);
  return Buffer.from(
    '&'.repeat(PARSE_BYTES - head.length - tail.length - units * unit.length) + head + unit.repeat(units) + tail,
    'latin1',
  );
};
const mpPart = (name, value) => `--B\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
function normalBody() {
  const parts = [];
  for (let i = 0, len = 0; len < PARSE_BYTES; i++) {
    const p = `product%5B${i}%5D%5Bproduct_code%5D=${code(i)}&product%5B${i}%5D%5Bstock%5D=${i % 1000}&`;
    parts.push(p);
    len += p.length;
  }
  return Buffer.from(parts.join('').slice(0, PARSE_BYTES));
}
const HOSTILE = {
  no_eq: () => fill('', 'x&'),
  all_amp: () => fill('', '&'),
  huge_key: () => fill('', 'k', '=1'),
  deep_brackets: () => fill('product', '[', '=1'),
  one_field_repeated: () => fill('', 'product[0][stock]=1&'),
  multipart_parts: () => fill('', mpPart('x', 'y'), '--B--\r\n'),
};
/**
 * Parse + read of one body as the receiver does it (receiver.maxItems at its default); median of 3, wall
 * and CPU time (on a busy machine the CPU time is what a quiet one would show as wall time).
 */
function parseMs(make, multipart = false) {
  const wall = [],
    cpu = [];
  for (let r = 0; r < ROUNDS; r++) {
    const body = make();
    const start = performance.now(),
      startCpu = process.cpuUsage();
    try {
      readUploadRequest(body, (on) => (multipart ? parseMultipart(body, 'B', on) : parseUrlencoded(body, on)), 200_000);
    } catch {
      /* a refused body counts the same: the time is what matters here */
    }
    const used = process.cpuUsage(startCpu);
    wall.push(performance.now() - start);
    cpu.push((used.user + used.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const t = tempDir('zb-bench-stock-');
const redis = await startRedis();
try {
  const cfg = validateConfig(
    {
      dataDir: 'data',
      receiver: { port: 0, waitMs: 60_000 },
      log: { level: 'silent' },
      shops: [{ id: SHOP, zaikoRobot: { userId: 'zr-bench', password: 'pw' } }],
    },
    t.dir,
    {},
  );
  const db = openDb(cfg.dataDir, 'stock');
  importCatalog(db, SHOP, catalog);

  // Apply step alone, set-based vs naive, on identical copies of one prepared database.
  const prepared = join(t.dir, 'prepared.db');
  const store = new UploadStore(db);
  const applyId = store.insert(SHOP, { source: 'http', charset: 'utf-8' }, uploadItems(0));
  db.pragma('wal_checkpoint(TRUNCATE)');
  copyFileSync(join(cfg.dataDir, 'stock.db'), prepared);
  // The variant catalog, prepared the same way.
  const variantsDir = join(t.dir, 'variants-prepared');
  const vdb = openDb(variantsDir, 'stock');
  importCatalog(vdb, SHOP, variantCatalog);
  const variantsApplyId = new UploadStore(vdb).insert(SHOP, { source: 'http', charset: 'utf-8' }, uploadItems(0));
  vdb.pragma('wal_checkpoint(TRUNCATE)');
  vdb.close();
  const preparedVariants = join(variantsDir, 'stock.db');
  const setMs = [],
    naiveMs = [],
    variantsMs = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const [kind, fn, out, from] of [
      ['set', (d) => applyUpload(d, applyId), setMs, prepared],
      ['variants', (d) => applyUpload(d, variantsApplyId), variantsMs, preparedVariants],
      ['naive', (d) => naiveApply(d, applyId), naiveMs, prepared],
    ]) {
      const dir = join(t.dir, `${kind}-${r}`);
      const file = join(dir, 'stock.db');
      mkdirSync(dir);
      copyFileSync(from, file);
      const d = openDb(dir, 'stock');
      const start = performance.now();
      fn(d);
      out.push(performance.now() - start);
      d.close();
    }
  }
  db.prepare("UPDATE uploads SET status = 'applied' WHERE id = ?").run(applyId);

  // What durability costs: storing a 10-item upload (one commit) with synchronous=FULL (fsync of the WAL
  // before the commit returns: what the receiver does before it answers) against NORMAL, interleaved.
  const commitMs = { FULL: [], NORMAL: [] };
  for (const mode of ['FULL', 'NORMAL']) mkdirSync(join(t.dir, `sync-${mode}`));
  const syncDbs = Object.fromEntries(
    ['FULL', 'NORMAL'].map((mode) => [mode, openDb(join(t.dir, `sync-${mode}`), 'stock', { synchronous: mode })]),
  );
  for (let r = 0; r < SMALL; r++) {
    for (const mode of r % 2 ? ['FULL', 'NORMAL'] : ['NORMAL', 'FULL']) {
      const items = Array.from({ length: 10 }, (_, i) => ({ code: code(i), rawStock: String(r) }));
      const start = performance.now();
      new UploadStore(syncDbs[mode]).insert(SHOP, { source: 'http', charset: 'utf-8' }, items);
      commitMs[mode].push(performance.now() - start);
    }
  }
  for (const d of Object.values(syncDbs)) d.close();

  // End to end over HTTP: receiver and worker as `start` runs them (the worker here in-process).
  const receiver = await startReceiver(cfg, redis.url, silentLogger);
  const worker = await startWorker(cfg, redis.url, silentLogger);
  const e2eMs = [];
  let answer = '';
  for (let r = 1; r <= ROUNDS; r++) {
    const body = [
      'sys_id=zr-bench&sys_pass=pw',
      ...uploadItems(r).map((it, i) => `product%5B${i}%5D%5Bproduct_code%5D=${it.code}&product%5B${i}%5D%5Bstock%5D=${it.rawStock}`),
    ].join('&');
    const start = performance.now();
    const res = await postUpload(receiver.port, body);
    e2eMs.push(performance.now() - start);
    answer = res.text.split('\n')[0] + ` (${res.text.split('\n').length - 2} NG lines)`;
  }
  // Small uploads one after another (zaiko Robot's usual case): each answer waits for two stock.db commits,
  // the upload's and the apply's, so this is where their fsyncs show.
  const smallMs = [];
  for (let r = 0; r < SMALL; r++) {
    const body = [
      'sys_id=zr-bench&sys_pass=pw',
      ...Array.from(
        { length: 10 },
        (_, i) => `product%5B${i}%5D%5Bproduct_code%5D=${code(r * 10 + i)}&product%5B${i}%5D%5Bstock%5D=${r % 997}`,
      ),
    ].join('&');
    const start = performance.now();
    await postUpload(receiver.port, body);
    smallMs.push(performance.now() - start);
  }
  await receiver.close();
  await worker.close();
  db.close();
  const e2e = median(e2eMs),
    set = median(setMs),
    naive = median(naiveMs),
    variants = median(variantsMs);
  const parseNormal = parseMs(normalBody);
  const [worstShape, parseHostile] = Object.entries(HOSTILE)
    .map(([k, make]) => [k, parseMs(make, k.startsWith('multipart'))])
    .sort((a, b) => b[1].cpu - a[1].cpu)[0];
  console.log(
    `stock-upload items=${N} e2e_ms=${e2e.toFixed(0)} e2e_items_per_s=${Math.round(N / (e2e / 1000))} ` +
      `apply_ms=${set.toFixed(0)} apply_items_per_s=${Math.round(N / (set / 1000))} naive_apply_ms=${naive.toFixed(0)} ` +
      `apply_speedup=${(naive / set).toFixed(2)}x apply_half_variants_ms=${variants.toFixed(0)} ` +
      `variants_vs_plain=${(variants / set).toFixed(2)} parse_32mib_normal_ms=${parseNormal.wall.toFixed(0)} ` +
      `(cpu ${parseNormal.cpu.toFixed(0)}) parse_32mib_hostile_ms=${parseHostile.wall.toFixed(0)} ` +
      `(cpu ${parseHostile.cpu.toFixed(0)}, ${worstShape}) small_uploads=${SMALL} ` +
      `upload_commit_ms_full=${median(commitMs.FULL).toFixed(2)} upload_commit_ms_normal=${median(commitMs.NORMAL).toFixed(2)} ` +
      `small_upload_ms_p50=${median(smallMs).toFixed(1)} small_upload_ms_p90=${quantile(smallMs, 0.9).toFixed(1)} ` +
      `peak_rss_mb=${peakRssMb()} answer=${answer}`,
  );
} finally {
  redis.stop();
  t.cleanup();
}
