// maxMessageBytes is enforced while the bytes arrive: an allowed client that sends 8 MB past a 200 kB
// limit gets 552 at the end of DATA, and the spool file never grows more than one write batch past it.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startRelay } from '../../src/roles/relay.js';
import { tempDir, testConfig, uniqueName, log, SHOP } from '../helpers/env.js';
import { startSink, type Sink } from '../helpers/smtp.js';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { probeEhlo, writeDrained, watchFolder, EHLO_WITHIN_MS } from '../helpers/hostile.js';

const redisUrl = inject('redisUrl');
const LIMIT = 200_000;
const WRITE_BATCH = 64 * 1024; // Spool's WRITE_BATCH_BYTES
let t: ReturnType<typeof tempDir>;
let sink: Sink;
let relay: Awaited<ReturnType<typeof startRelay>>;

beforeAll(async () => {
  t = tempDir();
  sink = await startSink();
  const cfg = testConfig(t.dir, { upstream: { port: sink.port }, relay: { maxMessageBytes: LIMIT } });
  relay = await startRelay(cfg, redisUrl, log, { queueName: uniqueName('mail') });
});
afterAll(async () => {
  await relay.close();
  await sink.close();
  t.cleanup();
});

describe('relay: maxMessageBytes while streaming', () => {
  it('8 MB past a 200 kB limit: 552, the spool file stops at the limit, is removed, and EHLO is answered meanwhile', async () => {
    const spool = join(t.dir, 'spool');
    const c = await RawSmtp.open(relay.port!);
    expect(await c.cmd('EHLO big.test')).toMatch(/^250/);
    expect(await c.cmd(`MAIL FROM:<${SHOP.senders[0]}>`)).toMatch(/^250/);
    expect(await c.cmd('RCPT TO:<someone@example.net>')).toMatch(/^250/);
    expect(await c.cmd('DATA')).toMatch(/^354/);
    const watch = watchFolder(spool);
    await writeDrained(c, 'Subject: big\r\n\r\n');
    const line = 'x'.repeat(998) + '\r\n';
    const block = line.repeat(64); // 64 KB
    const probes: number[] = [];
    let sent = 0;
    for (let i = 0; sent < LIMIT + 8_000_000; i++) {
      await writeDrained(c, block);
      sent += block.length;
      watch.sample();
      if (i % 32 === 16) {
        // every ~2 MB: another client still gets its EHLO answered
        const p = await probeEhlo(relay.port!);
        expect(p.reply).toMatch(/^250/);
        probes.push(p.ms);
      }
    }
    await writeDrained(c, '.\r\n');
    const reply = await c.reply(30_000);
    const seen = await watch.stop();
    c.close();
    if (process.env.SECURITY_FIGURES) console.log('FIGURES size', JSON.stringify({ seen, probes: probes.map(Math.round) }));
    expect(reply).toMatch(/^552 /);
    expect(seen.polls).toBeGreaterThan(100);
    expect(seen.largest).toBeGreaterThan(0);
    expect(seen.largest).toBeLessThanOrEqual(LIMIT + WRITE_BATCH + 1024); // + our Received: header
    expect(readdirSync(spool).filter((f) => f.endsWith('.eml'))).toEqual([]);
    expect(relay.ledger.list({ limit: 5 })).toEqual([]);
    expect(probes.length).toBeGreaterThanOrEqual(3);
    for (const ms of probes) expect(ms).toBeLessThan(EHLO_WITHIN_MS);
  });

  it('a message just under the limit is still accepted', async () => {
    const c = await RawSmtp.open(relay.port!);
    expect(await c.cmd('EHLO ok.test')).toMatch(/^250/);
    expect(await c.cmd(`MAIL FROM:<${SHOP.senders[0]}>`)).toMatch(/^250/);
    expect(await c.cmd('RCPT TO:<someone@example.net>')).toMatch(/^250/);
    expect(await c.cmd('DATA')).toMatch(/^354/);
    const body = 'Subject: fits\r\n\r\n' + ('y'.repeat(998) + '\r\n').repeat(190);
    await writeDrained(c, body + '.\r\n');
    expect(await c.reply()).toMatch(/^250 /);
    c.close();
  });
});
