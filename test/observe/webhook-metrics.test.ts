// /metrics for the cart webhook: batches by outcome, pending changes and the last 2xx per shop, read
// from stock.db at scrape (the pusher runs in the worker; its counts live in stock.db).
import { describe, it, expect, afterEach } from 'vitest';
import { tempDir, testConfig, SHOP } from '../helpers/env.js';
import { openDb } from '../../src/db/open.js';
import { Metrics } from '../../src/observe/metrics.js';
import { webhookFigures } from '../../src/queries/webhook.js';
import { CursorStore } from '../../src/stock/webhook/cursor-store.js';

let t: ReturnType<typeof tempDir>;
afterEach(() => t.cleanup());

describe('webhook metrics', () => {
  it('counts batches by outcome and shows pending changes and the last success per shop', async () => {
    t = tempDir();
    const secret = `whsec_${Buffer.alloc(24, 2).toString('base64')}`;
    const cfg = testConfig(t.dir, { shops: [{ ...SHOP, cart: { webhook: { url: 'https://cart.example.jp/hook', secret } } }] });
    const db = openDb(t.dir, 'stock');
    const cursors = new CursorStore(db);
    cursors.ensure(SHOP.id);
    const insert = db.prepare(
      `INSERT INTO stock_changes (shop_id, code, product_code, old_stock, new_stock, source, upload_id, changed_at)
      VALUES (?, ?, ?, 1, 2, ?, NULL, ?)`,
    );
    for (const source of ['upload', 'upload', 'order', 'upload']) insert.run(SHOP.id, 'A', 'A', source, Date.now());
    cursors.failed(SHOP.id, 'failed', null, 'no answer within 10000 ms', 1000, 2000);
    cursors.failed(SHOP.id, 'rejected', 503, 'HTTP 503', 3000, 5000);
    cursors.delivered(SHOP.id, 1, 200, 1_796_000_000_000);
    const metrics = new Metrics();
    metrics.watchWebhooks(() => webhookFigures(db, cfg));
    const text = await metrics.registry.metrics();
    db.close();
    expect(text).toContain(`zaiko_bridge_webhook_batches_total{shop="${SHOP.id}",outcome="delivered"} 1`);
    expect(text).toContain(`zaiko_bridge_webhook_batches_total{shop="${SHOP.id}",outcome="rejected"} 1`);
    expect(text).toContain(`zaiko_bridge_webhook_batches_total{shop="${SHOP.id}",outcome="failed"} 1`);
    // After change 1: two more upload changes; the order change is not this cart's (sources: [upload]).
    expect(text).toContain(`zaiko_bridge_webhook_pending_changes{shop="${SHOP.id}"} 2`);
    expect(text).toContain(`zaiko_bridge_webhook_last_success_timestamp_seconds{shop="${SHOP.id}"} 1796000000`);
  });
});
