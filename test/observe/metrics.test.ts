// /metrics moves after a real message and a real upload; /healthz and /readyz answer.
import { describe, it, expect, inject } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metrics } from '../../src/observe/metrics.js';
import { startRelay } from '../../src/roles/relay.js';
import { startReceiver } from '../../src/roles/receiver.js';
import { startWorker } from '../../src/roles/worker.js';
import { openDb } from '../../src/db/open.js';
import { importCatalog, parseCatalog } from '../../src/stock/catalog.js';
import { tempDir, testConfig, uniqueName, log, FIXTURES, stopAll } from '../helpers/env.js';
import { startSink, sendMail } from '../helpers/smtp.js';
import { send, post } from '../helpers/http.js';
import { until } from '../helpers/net.js';

const redisUrl = inject('redisUrl');

describe('metrics and health', () => {
  it('counts messages, deliveries, uploads and skipped items, all prefixed and initialised', async () => {
    const t = tempDir();
    const sink = await startSink();
    const cfg = testConfig(t.dir, { upstream: { port: sink.port } });
    const db = openDb(cfg.dataDir, 'stock');
    importCatalog(db, 'croft-zakka', parseCatalog(Buffer.from('TNG-AI-01,a,1,0,0\nMZR-SET-5,b,1,0,0\n')));
    const metrics = new Metrics();
    const stockQueue = uniqueName('stock');
    const relay = await startRelay(cfg, redisUrl, log, { metrics, queueName: uniqueName('mail') });
    const receiver = await startReceiver(cfg, redisUrl, log, { metrics, queueName: stockQueue });
    const worker = await startWorker(cfg, redisUrl, log, { queueName: stockQueue });
    try {
      const scrape = async () => (await send(receiver.port!, 'GET', '/metrics')).text;
      const before = await scrape();
      expect(before).toContain('zaiko_bridge_messages_rejected_total{reason="relay_denied"} 0');
      expect(before).toContain('zaiko_bridge_upload_items_total{outcome="skipped",reason="stale"} 0');
      expect(before).toMatch(/^zaiko_bridge_process_cpu_user_seconds_total /m);
      for (const line of before.split('\n').filter((l) => l && !l.startsWith('#'))) expect(line).toMatch(/^zaiko_bridge_/);

      await sendMail({
        port: relay.port!,
        from: 'order@croft-zakka.example.jp',
        to: ['c@example.net'],
        raw: readFileSync(join(FIXTURES, 'mail', 'order-iso2022jp.eml')),
      });
      await until(() => sink.messages.length === 2, 15_000, 'delivery and forward');
      expect((await post(receiver.port!, '/api/zaikorobot.php', readFileSync(join(FIXTURES, 'uploads', 'basic-utf8.form')))).text).toMatch(
        /^NG/,
      );
      const after = await scrape();
      expect(after).toContain('zaiko_bridge_messages_accepted_total 1');
      expect(after).toContain('zaiko_bridge_deliveries_total{kind="deliver",outcome="sent"} 1');
      expect(after).toContain('zaiko_bridge_deliveries_total{kind="forward",outcome="sent"} 1');
      expect(after).toContain('zaiko_bridge_uploads_total{answer="NG"} 1');
      expect(after).toContain('zaiko_bridge_upload_items_total{outcome="applied",reason=""} 2');
      expect(after).toContain('zaiko_bridge_upload_items_total{outcome="skipped",reason="unknown_code"} 1');
      expect(after).toMatch(/zaiko_bridge_accept_seconds_count 1/);
      expect(after).toMatch(new RegExp(`zaiko_bridge_queue_jobs\\{queue="${stockQueue}",state="waiting"\\} 0`));
      expect((await send(receiver.port!, 'GET', '/healthz')).status).toBe(200);
      expect((await send(receiver.port!, 'GET', '/readyz')).status).toBe(200);
    } finally {
      await stopAll(worker, receiver, relay, sink, db);
      t.cleanup();
    }
  });
});
