// bench/cart-webhook: a 100,000-item upload that changes every product, POSTed to a real receiver; the
// worker (dist/cli.js worker, its own process, as under `start`) applies it and pushes the changes to a
// local cart. Measured: the upload's request → answer (the apply: the baseline) and, from that answer,
// the seconds until the cart has accepted every change (issue 20: within 10 s). Median of 3 rounds.
// `npm run bench:cart` puts its figure on its line (webhookFigure); alone: npm run bench:cart-webhook
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { stringify } from 'yaml';
import { validateConfig } from '../dist/config/load.js';
import { openDb } from '../dist/db/open.js';
import { importCatalog } from '../dist/stock/catalog.js';
import { startReceiver } from '../dist/roles/receiver.js';
import { silentLogger } from '../dist/observe/logger.js';
import { median, tempDir, startRedis, postUpload } from './lib.mjs';

const N = Number(process.env.BENCH_ITEMS ?? 100_000);
const ROUNDS = 3;
const TARGET_S = 10;
const SHOP = 'bench';
const SECRET = `whsec_${Buffer.alloc(32, 5).toString('base64')}`;
const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js');
const code = (i) => `P-${String(i).padStart(6, '0')}`;
// Every round sets every product to a value it did not have: 100,000 changes a round.
const uploadBody = (round) =>
  Array.from(
    { length: N },
    (_, i) => `product%5B${i}%5D%5Bproduct_code%5D=${code(i)}&product%5B${i}%5D%5Bstock%5D=${(i + round + 1) % 1000}`,
  ).join('&') + '&sys_id=zr-bench&sys_pass=pw';

/** The cart: takes each batch (checking that ids only go up), answers 204, and says when `want` changes came. */
async function startCart() {
  let taken = 0;
  let lastId = 0;
  let batches = 0;
  let waiter;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const { changes } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const c of changes) {
        if (c.id <= lastId) throw new Error(`change ${c.id} after ${lastId}: out of order`);
        lastId = c.id;
      }
      taken += changes.length;
      batches++;
      res.writeHead(204).end();
      if (waiter && taken >= waiter.want) waiter.resolve(performance.now());
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    batches: () => batches,
    /** Resolves with the time at which the cart has taken `want` changes in all. */
    until: (want) => new Promise((resolve) => (taken >= want ? resolve(performance.now()) : (waiter = { want, resolve }))),
    close: () => new Promise((r) => server.close(r)),
  };
}

/** The figure, against the Redis at `redisUrl`. */
export async function webhookFigure(redisUrl) {
  const t = tempDir('zb-bench-cart-webhook-');
  const cart = await startCart();
  let worker;
  try {
    const doc = {
      dataDir: 'data',
      redis: { url: redisUrl },
      receiver: { port: 0, waitMs: 120_000, maxBytes: '64MiB' },
      log: { level: process.env.BENCH_LOG ?? 'warn' },
      shops: [{ id: SHOP, zaikoRobot: { userId: 'zr-bench', password: 'pw' }, cart: { webhook: { url: cart.url, secret: SECRET } } }],
    };
    const configPath = join(t.dir, 'zb.yaml');
    writeFileSync(configPath, stringify(doc));
    const cfg = validateConfig(structuredClone(doc), t.dir, {});
    const db = openDb(cfg.dataDir, 'stock');
    importCatalog(
      db,
      SHOP,
      Array.from({ length: N }, (_, i) => ({ code: code(i), name: `item ${i}`, stock: 1_000_000, unlimited: 0, usesCodes: 0 })),
    );
    db.close();
    worker = spawn(process.execPath, [CLI, 'worker', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    worker.stderr.on('data', (d) => (err += d));
    if (process.env.BENCH_LOG) worker.stderr.pipe(process.stderr);
    for (let i = 0; i < 600 && !err.includes('webhook pusher running'); i++) await new Promise((r) => setTimeout(r, 50));
    const receiver = await startReceiver(cfg, redisUrl, silentLogger);
    const applyS = [];
    const pushS = [];
    for (let r = 0; r < ROUNDS; r++) {
      const body = uploadBody(r);
      const start = performance.now();
      const res = await postUpload(receiver.port, body);
      const applied = performance.now();
      if (res.text !== 'OK\n') throw new Error(`upload answered ${res.status} ${res.text}`);
      const done = await cart.until(N * (r + 1));
      applyS.push((applied - start) / 1000);
      pushS.push(Math.max(0, done - applied) / 1000);
    }
    await receiver.close();
    const push = median(pushS);
    const apply = median(applyS);
    const each = pushS.map((s) => s.toFixed(2)).join(' ');
    return (
      `webhook: ${N} changes a round, upload request→answer (apply) ${apply.toFixed(2)} s, ` +
      `then all accepted by the cart ${push.toFixed(2)} s after the answer (median of ${ROUNDS}: ${each}; ` +
      `target ≤ ${TARGET_S} s: ${push <= TARGET_S ? 'met' : 'NOT met'}), ${(push / apply).toFixed(2)}× the apply, ` +
      `${cart.batches() / ROUNDS} batches of ≤ 500 a round`
    );
  } finally {
    worker?.kill('SIGTERM');
    await cart.close();
    t.cleanup();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const redis = await startRedis();
  try {
    console.log(`bench:cart ${await webhookFigure(redis.url)}`);
  } finally {
    redis.stop();
  }
}
