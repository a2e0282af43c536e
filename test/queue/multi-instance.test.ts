// Several instances on one Redis: two relays (own instance, own dataDir) each deliver their own spool
// and `queue stats` shows both relays' queues; two stock workers on one stock.db apply each upload once.
import { describe, it, expect, afterEach, inject } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startRelay } from '../../src/roles/relay.js';
import { startReceiver } from '../../src/roles/receiver.js';
import { startWorker } from '../../src/roles/worker.js';
import { openDb } from '../../src/db/open.js';
import { importCatalog } from '../../src/stock/catalog.js';
import { tempDir, testConfig, uniqueName, log, SHOP } from '../helpers/env.js';
import { startSink, sendMail } from '../helpers/smtp.js';
import { post, form, auth, items } from '../helpers/http.js';
import { run } from '../helpers/cli.js';
import { until } from '../helpers/net.js';

const redisUrl = inject('redisUrl');
let t: ReturnType<typeof tempDir>;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  t?.cleanup();
});

describe('several instances on one Redis', () => {
  it('two relays deliver only their own spool; queue stats shows both mail queues', async () => {
    t = tempDir();
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const prefix = uniqueName('mi');
    const [a, b] = ['a', 'b'].map((name) =>
      testConfig(join(t.dir, name), {
        instance: uniqueName(name),
        upstream: { port: sink.port },
        redis: { url: redisUrl, prefix },
      }),
    );
    const relayA = await startRelay(a, redisUrl, log);
    cleanups.push(() => relayA.close());
    const relayB = await startRelay(b, redisUrl, log);
    cleanups.push(() => relayB.close());
    expect(relayA.queue.name).not.toBe(relayB.queue.name);
    await sendMail({ port: relayA.port!, from: 'x@shop.example', to: ['to-a@example.net'], raw: 'Subject: a\r\n\r\na\r\n' });
    await sendMail({ port: relayB.port!, from: 'x@shop.example', to: ['to-b@example.net'], raw: 'Subject: b\r\n\r\nb\r\n' });
    await until(() => sink.messages.length === 2, 15_000, 'both delivered');
    // Each ledger has its own message only, sent: relay A never read B's spool, nor B A's. The sink has a
    // message before its relay has recorded the upstream's 250: wait for both records first.
    const sent = (ledger: typeof relayA.ledger) => ledger.list({ limit: 10 }).map((m) => `${m.to}:${m.status}`);
    const recorded = (ledger: typeof relayA.ledger) => sent(ledger).every((s) => !s.endsWith(':queued'));
    await until(() => recorded(relayA.ledger) && recorded(relayB.ledger), 15_000, 'both sends recorded');
    expect(sent(relayA.ledger)).toEqual(['to-a@example.net:sent']);
    expect(sent(relayB.ledger)).toEqual(['to-b@example.net:sent']);

    const config = join(t.dir, 'a.yaml');
    writeFileSync(config, stringify({ dataDir: './a', instance: a.instance, redis: { url: redisUrl, prefix }, shops: [SHOP] }));
    const stats = run(['queue', 'stats', '--json', '--config', config]);
    expect(stats.code, stats.stderr).toBe(0);
    const names = JSON.parse(stats.stdout).queues.map((q: { name: string }) => q.name);
    expect(names).toEqual(
      [a.instance, b.instance]
        .map((i) => `mail-${i}`)
        .sort()
        .concat('stock'),
    );
  });

  it('two stock workers on one stock.db: every upload applied exactly once, whichever worker takes it', async () => {
    t = tempDir();
    const queueName = uniqueName('stock');
    const cfg = testConfig(t.dir, { receiver: { waitMs: '1ms' } });
    const N = 30;
    const db = openDb(cfg.dataDir, 'stock');
    cleanups.push(() => db.close());
    importCatalog(
      db,
      SHOP.id,
      Array.from({ length: N }, (_, i) => ({ code: `P${i}`, name: 'n', stock: 0, unlimited: 0, usesCodes: 0 })),
    );
    const receiver = await startReceiver(cfg, redisUrl, log, { queueName });
    cleanups.push(() => receiver.close());
    for (const _ of [1, 2]) {
      const w = await startWorker(cfg, redisUrl, log, { queueName });
      cleanups.push(() => w.close());
    }
    for (let i = 0; i < N; i++) {
      const r = await post(receiver.port!, '/api/zaikorobot.php', form([...auth, ...items([[`P${i}`, String(i + 1)]])]));
      expect(r.status).toBe(200);
    }
    const count = (sql: string) => db.prepare(sql).pluck().get() as number;
    await until(() => count("SELECT COUNT(*) FROM uploads WHERE status = 'applied'") === N, 20_000, 'every upload applied');
    // Once each: one stock change per upload (a second apply would find it applied and change nothing,
    // a double one would write a second row), and every product holds its upload's value.
    expect(count("SELECT COUNT(*) FROM stock_changes WHERE source = 'upload'")).toBe(N);
    expect(count('SELECT COUNT(*) FROM products WHERE stock = CAST(SUBSTR(code, 2) AS INTEGER) + 1')).toBe(N);
  });
});
