// Six complete maximum-size uploads at once (32 MiB, 200,000 known items each: receiver.maxBytes and
// maxItems) against `zaiko-bridge start`, where the stock thread parses and stores them: as many as
// receiver.maxInflightBytes admits are taken (each OK'd one is stored, whole, and applied), the others
// get 503 `NG` `busy` with Retry-After and leave nothing behind, the process's memory grows by what
// the admitted ones need, and a normal upload and EHLO are answered afterwards.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { request } from 'node:http';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { tempDir, SHOP } from '../helpers/env.js';
import { startTree, stopTree, memoryMb } from '../helpers/start-tree.js';
import { freePort, until } from '../helpers/net.js';
import { post, form, auth, items } from '../helpers/http.js';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { openDb } from '../../src/db/open.js';
import { importCatalog } from '../../src/stock/catalog.js';

const MiB = 1024 * 1024;
const MAX_BYTES = 32 * MiB; // receiver.maxBytes' default
const MAX_ITEMS = 200_000; // receiver.maxItems' default
const UPLOADS = 6;
const ADMITTED = Math.floor((128 * MiB) / MAX_BYTES); // receiver.maxInflightBytes' default: 4
const PATH = '/api/zaikorobot.php';

const CODE_PAD = 'x'.repeat(104); // fills the form to just under maxBytes
const code = (i: number) => `P${String(i).padStart(6, '0')}-${CODE_PAD}`;

/** One maximum-size form: every item a catalog product, set to 5. */
function maxForm(): Buffer {
  const parts = [`sys_id=${SHOP.zaikoRobot.userId}&sys_pass=${SHOP.zaikoRobot.password}`];
  for (let i = 0; i < MAX_ITEMS; i++) parts.push(`&product[${i}][product_code]=${code(i)}&product[${i}][stock]=5`);
  return Buffer.from(parts.join(''));
}

/** A whole upload; resolves on the answer even if the server closes while the body is still going (busy). */
function upload(port: number, body: Buffer): Promise<{ status: number; text: string; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: PATH,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length },
      },
      (res) => {
        answered = true;
        let text = '';
        res.setEncoding('latin1');
        res.on('data', (c) => (text += c));
        const done = () => resolve({ status: res.statusCode!, text, retryAfter: res.headers['retry-after'] as string | undefined });
        res.on('end', done);
        res.on('error', done);
        res.on('close', done);
      },
    );
    req.on('error', (err) => (answered ? undefined : reject(err)));
    req.end(body);
  });
}

async function ehloReply(port: number): Promise<string> {
  const c = await RawSmtp.open(port);
  const reply = await c.cmd('EHLO probe.test');
  c.close();
  return reply;
}

describe('six maximum-size uploads at once against start', () => {
  let t: ReturnType<typeof tempDir>;
  let proc: ChildProcess;
  let receiverPort: number, relayPort: number;

  beforeAll(async () => {
    t = tempDir();
    [receiverPort, relayPort] = [await freePort(), await freePort()];
    const db = openDb(join(t.dir, 'data'), 'stock');
    importCatalog(
      db,
      SHOP.id,
      Array.from({ length: MAX_ITEMS }, (_, i) => ({ code: code(i), name: '', stock: 1, unlimited: 0, usesCodes: 0 })),
    );
    db.close();
    // The receiver's default waitMs (10 s): each answer waits for its apply, holding what it holds.
    proc = await startTree(t.dir, { relay: relayPort, receiver: receiverPort });
  }, 120_000);

  afterAll(async () => {
    await stopTree(proc, 15_000);
    t?.cleanup();
  });

  it('admits what maxInflightBytes allows, answers the rest NG busy, stores and applies every OK whole, memory bounded', async () => {
    const body = maxForm();
    expect(body.length).toBeLessThanOrEqual(MAX_BYTES);
    expect(body.length).toBeGreaterThan(MAX_BYTES - 256 * 1024);
    const small = form([...auth, ...items([[code(0), '3']])]);
    expect((await post(receiverPort, PATH, small)).text).toBe('OK\n'); // warm: the upload's code paths are loaded
    const before = memoryMb(proc.pid!);

    const answers = await Promise.all(Array.from({ length: UPLOADS }, () => upload(receiverPort, body)));
    const after = memoryMb(proc.pid!);
    const ok = answers.filter((a) => a.status === 200);
    const busy = answers.filter((a) => a.status === 503);
    console.log(
      `${UPLOADS} uploads of ${(body.length / MiB).toFixed(1)} MiB, ${MAX_ITEMS} items: ${ok.length} OK, ${busy.length} busy; ` +
        `RSS ${before.rss} MB before, ${after.rss} MB after, peak ${after.peak} MB (+${after.peak - before.rss} MB)`,
    );
    expect(ok.map((a) => a.text)).toEqual(Array(ADMITTED).fill('OK\n'));
    expect(busy).toHaveLength(UPLOADS - ADMITTED);
    for (const a of busy) {
      expect(a.text).toBe('NG\nbusy\n');
      expect(Number(a.retryAfter)).toBeGreaterThan(0);
    }
    // Bounded by the admitted four (their bodies, the parse of one at a time), not by what was sent. An
    // upload's decoded items kept alive while its answer waited for the apply: +697 MB (now about +466).
    expect(after.peak - before.rss).toBeLessThan(640);

    // Every OK is a durable upload of all its items (the busy ones stored nothing), applied in the end.
    const db = openDb(join(t.dir, 'data'), 'stock');
    try {
      const big = () =>
        db.prepare('SELECT status, item_count FROM uploads WHERE item_count = ? ORDER BY id').all(MAX_ITEMS) as {
          status: string;
          item_count: number;
        }[];
      expect(big()).toHaveLength(ADMITTED);
      await until(() => big().every((u) => u.status === 'applied'), 180_000, 'every stored upload applied');
      const stocks = db.prepare('SELECT stock, COUNT(*) AS n FROM products WHERE shop_id = ? GROUP BY stock').all(SHOP.id);
      expect(stocks).toEqual([{ stock: 5, n: MAX_ITEMS }]);
    } finally {
      db.close();
    }
    expect((await post(receiverPort, PATH, small)).text).toBe('OK\n');
    expect(await ehloReply(relayPort)).toMatch(/^250/);
  }, 300_000);
});
