// Classification of hostile mail: linear work whatever the HTML, the event loop never blocked (another
// client gets its EHLO answered within 1 s meanwhile), and the order still read right.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { startRelay } from '../../src/roles/relay.js';
import { tempDir, testConfig, uniqueName, log, SHOP } from '../helpers/env.js';
import { startSink, type Sink } from '../helpers/smtp.js';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { probeEhlo, writeDrained, EHLO_WITHIN_MS } from '../helpers/hostile.js';
import { until } from '../helpers/net.js';

const redisUrl = inject('redisUrl');
const SUBJECT = `=?UTF-8?B?${Buffer.from(SHOP.orderMail.subject).toString('base64')}?=`;
const ORDER_HTML = '<p>注文番号：A-100</p><p>商品コード：X1</p><p>数量：2</p>';
let t: ReturnType<typeof tempDir>;
let sink: Sink;
let relay: Awaited<ReturnType<typeof startRelay>>;

beforeAll(async () => {
  t = tempDir();
  sink = await startSink();
  relay = await startRelay(testConfig(t.dir, { upstream: { port: sink.port } }), redisUrl, log, { queueName: uniqueName('mail') });
});
afterAll(async () => {
  await relay.close();
  await sink.close();
  t.cleanup();
});

/** Sends one message from an allowed client; while the relay takes it, another client says EHLO. */
export async function sendWithProbe(
  port: number,
  message: Buffer,
): Promise<{ reply: string | null; probeMs: number; probeReply: string | null }> {
  const c = await RawSmtp.open(port);
  try {
    expect(await c.cmd('EHLO hostile.test')).toMatch(/^250/);
    expect(await c.cmd(`MAIL FROM:<${SHOP.senders[0]}>`)).toMatch(/^250/);
    expect(await c.cmd('RCPT TO:<customer@example.net>')).toMatch(/^250/);
    expect(await c.cmd('DATA')).toMatch(/^354/);
    await writeDrained(c, Buffer.concat([message, Buffer.from('\r\n.\r\n')]));
    const probe = await probeEhlo(port);
    return { reply: await c.reply(60_000), probeMs: probe.ms, probeReply: probe.reply };
  } finally {
    c.close();
  }
}

const htmlMail = (i: number, html: string) =>
  Buffer.from(
    `From: <${SHOP.senders[0]}>\r\nTo: <customer@example.net>\r\nSubject: ${SUBJECT}\r\n` +
      `Message-ID: <hostile-html-${i}@test>\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${html}`,
  );

describe('relay: classification of hostile HTML', () => {
  it.each([
    ['120 KB of unclosed <br', '<br'.repeat(40_000)],
    ['an unclosed tag with a 120 KB attribute', `<a href="${'x'.repeat(120_000)}`],
    ['30,000 nested unclosed comments', '<!--'.repeat(30_000)],
    ['a tag with 30,000 attributes', `<a ${'x=1 '.repeat(30_000)}>`],
    ['120,000 bare <', '<'.repeat(120_000)],
  ])(
    '%s: 250, order read, EHLO answered meanwhile',
    async (_name, tail) => {
      const { reply, probeMs, probeReply } = await sendWithProbe(relay.port!, htmlMail(Math.floor(Math.random() * 1e9), ORDER_HTML + tail));
      expect(probeReply).toMatch(/^250/);
      expect(probeMs).toBeLessThan(EHLO_WITHIN_MS);
      const qid = /queued as (\S+)/.exec(reply ?? '')?.[1];
      expect(reply, String(reply)).toMatch(/^250 /);
      const row = relay.ledger.message(qid!)!;
      expect(row.is_order).toBe(1);
      expect(row.order_number).toBe('A-100');
      expect(JSON.parse(row.items)).toEqual([{ code: 'X1', quantity: 2 }]);
    },
    120_000,
  );
});

const orderHeader = (i: number) =>
  `From: <${SHOP.senders[0]}>\r\nTo: <customer@example.net>\r\nSubject: ${SUBJECT}\r\nMessage-ID: <unusual-${i}@test>\r\n`;
function manyParts(n: number): string {
  let s = `${orderHeader(1)}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n`;
  for (let i = 0; i < n; i++) s += `--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n注文番号：A-1 商品コード：X${i} 数量：1\r\n`;
  return `${s}--b--\r\n`;
}
function deepNesting(depth: number): string {
  let s = `${orderHeader(2)}MIME-Version: 1.0\r\n`;
  for (let i = 0; i < depth; i++) s += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
  s += 'Content-Type: text/plain; charset=UTF-8\r\n\r\n注文番号：A-2\r\n';
  for (let i = depth - 1; i >= 0; i--) s += `--b${i}--\r\n`;
  return s;
}
const hugeHeader = () => `${orderHeader(3)}${'X-Filler: 0123456789\r\n'.repeat(10_000)}\r\n注文番号：A-3\r\n`;

describe('relay: valid mail that classification cannot read', () => {
  it.each([
    ['1,500 MIME parts', manyParts(1500)],
    ['1,000 nested multiparts', deepNesting(1000)],
    ['a 220 KB header', hugeHeader()],
  ])(
    '%s: 250, delivered, not forwarded, flagged unreadable',
    async (_name, raw) => {
      const { reply, probeMs, probeReply } = await sendWithProbe(relay.port!, Buffer.from(raw));
      expect(probeReply).toMatch(/^250/);
      expect(probeMs).toBeLessThan(EHLO_WITHIN_MS);
      expect(reply, String(reply)).toMatch(/^250 /);
      const qid = /queued as (\S+)/.exec(reply!)![1];
      const row = relay.ledger.message(qid)!;
      expect(JSON.parse(row.flags)).toContain('unreadable');
      expect(row.shop_id).toBe(SHOP.id); // by the envelope sender: a trusted fact, no parsing needed
      expect(row.is_order).toBe(0);
      expect(row.forward).toBe('none');
      await until(() => relay.ledger.recipients(qid, 'deliver').every((r) => r.status === 'sent'), 15_000, 'delivery');
      const delivered = sink.messages.filter((m) => m.raw.includes(`Message-ID: <unusual-`) && m.raw.includes(qid));
      expect(delivered.map((m) => m.to)).toEqual([['customer@example.net']]);
    },
    60_000,
  );
});
