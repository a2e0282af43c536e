// bench/cart: what the cart's side costs. One line of figures (add yours to `figures`):
//   feed     GET /api/stock/changes, a page of 1,000 changes out of 20,000 (real HTTP, the receiver
//            role), median of FEED_RUNS; baseline: the same page read from stock.db alone (no HTTP/JSON)
//   relay    the relay's accepted throughput for order mail (10 pooled SMTP clients, ORDERS per round,
//            after one warm-up round)
//            with shops[].decrementOnOrder on and off, interleaved rounds, median; ratio on/off
//   webhook  a 100,000-item upload changing every product: seconds from its answer until a local cart
//            took every change (bench/cart-webhook.mjs); baseline: the apply (request → answer)
// Needs redis-server. Run: npm run bench:cart
import { request } from 'node:http';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { median, tempDir, startRedis } from './lib.mjs';
import { webhookFigure } from './cart-webhook.mjs';
import { validateConfig } from '../dist/config/load.js';
import { openDb } from '../dist/db/open.js';
import { importCatalog, parseCatalog } from '../dist/stock/catalog.js';
import { ChangeFeed } from '../dist/stock/changes/feed.js';
import { startReceiver } from '../dist/roles/receiver.js';
import { startRelay } from '../dist/roles/relay.js';
import { silentLogger } from '../dist/observe/logger.js';

const PRODUCTS = 20_000;
const FEED_RUNS = Number(process.env.BENCH_FEED_RUNS ?? 50);
const ORDERS = Number(process.env.BENCH_ORDERS ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TOKEN = 'bench-feed-token-0123456789';
const SHOP = {
  id: 'bench',
  senders: ['order@shop.example'],
  forwardTo: 'import@zr.example',
  orderMail: { subject: 'ご注文' },
  zaikoRobot: { userId: 'zr-bench', password: 'bench-pass-1234' },
  cart: { token: TOKEN },
};
const config = (dataDir, shop = {}) =>
  validateConfig(
    {
      dataDir,
      instance: `bench-${Math.random().toString(16).slice(2, 8)}`,
      relay: { port: 0 },
      receiver: { port: 0 },
      upstream: { outbox: join(dataDir, 'outbox') },
      shops: [{ ...SHOP, ...shop }],
    },
    dataDir,
    {},
  );

function get(port, path) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      let n = 0;
      res.on('data', (c) => (n += c.length));
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

async function feedFigures(redisUrl) {
  const t = tempDir('zb-bench-cart-');
  try {
    const cfg = config(t.dir);
    const db = openDb(cfg.dataDir, 'stock');
    const csv = Array.from({ length: PRODUCTS }, (_, i) => `P-${i},product ${i},${i % 50},0,0`).join('\n');
    importCatalog(db, SHOP.id, parseCatalog(Buffer.from(csv))); // 20,000 changes (source import)
    const feed = new ChangeFeed(db);
    const receiver = await startReceiver(cfg, redisUrl, silentLogger);
    const http = [];
    const sqlite = [];
    for (let i = 0; i < FEED_RUNS; i++) {
      const after = (i * 997) % (PRODUCTS - 1000);
      http.push(await get(receiver.port, `/api/stock/changes?shop=${SHOP.id}&after=${after}&limit=1000`));
      const started = performance.now();
      feed.page(SHOP.id, after, 1000);
      sqlite.push(performance.now() - started);
    }
    await receiver.close();
    db.close();
    return { feedMs: median(http), sqliteMs: median(sqlite) };
  } finally {
    t.cleanup();
  }
}

function orderMail(i) {
  const b64 = (s) => Buffer.from(s).toString('base64');
  return [
    `From: ${SHOP.senders[0]}`,
    'To: customer@example.net',
    `Subject: =?UTF-8?B?${b64(`ご注文ありがとうございます（注文番号：B-${i}）`)}?=`,
    `Message-ID: <b${i}.${Math.random()}@shop.example>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: base64',
    '',
    b64(`注文番号：B-${i}\n商品コード: P-${i % 100}\n数量: 1\n商品コード: P-${(i + 7) % 100}\n数量: 2\n`),
    '',
  ].join('\r\n');
}

/** Order mails accepted per second by a fresh relay with decrementOnOrder `on`. */
async function relayRound(redisUrl, on) {
  const t = tempDir('zb-bench-cart-relay-');
  const relay = await startRelay(config(t.dir, { decrementOnOrder: on }), redisUrl, silentLogger);
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: relay.port,
    pool: true,
    maxConnections: 10,
    maxMessages: Infinity,
  });
  try {
    const started = performance.now();
    await Promise.all(
      Array.from({ length: ORDERS }, (_, i) =>
        transport.sendMail({ envelope: { from: SHOP.senders[0], to: ['customer@example.net'] }, raw: orderMail(i) }),
      ),
    );
    return ORDERS / ((performance.now() - started) / 1000);
  } finally {
    transport.close();
    await relay.close();
    t.cleanup();
  }
}

const redis = await startRedis();
try {
  const { feedMs, sqliteMs } = await feedFigures(redis.url);
  const on = [];
  const off = [];
  await relayRound(redis.url, true); // warm-up (cold page cache, JIT), not counted
  for (let r = 0; r < ROUNDS; r++) {
    off.push(await relayRound(redis.url, false));
    on.push(await relayRound(redis.url, true));
  }
  const figures = [
    `feed page of 1000 (of ${PRODUCTS}) p50 ${feedMs.toFixed(1)} ms (stock.db alone ${sqliteMs.toFixed(1)} ms, ${FEED_RUNS} runs)`,
    `relay accepted order mail decrementOnOrder on ${median(on).toFixed(0)} msg/s, off ${median(off).toFixed(0)} msg/s, ` +
      `on/off ${(median(on) / median(off)).toFixed(2)} (${ORDERS} x ${ROUNDS} interleaved)`,
    await webhookFigure(redis.url),
  ];
  console.log(`bench:cart ${figures.join('; ')}`);
} finally {
  redis.stop();
}
