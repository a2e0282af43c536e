// Hostile SMTP input: the relay answers per RFC 5321, never crashes or hangs past its timeouts, and
// passes what it accepts byte for byte. Plus a spool on a full disk: 451, nothing half-kept, recovery.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readdirSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startRelay } from '../../src/roles/relay.js';
import { tempDir, testConfig, uniqueName, log, SHOP } from '../helpers/env.js';
import { startSink, sendMail, type Sink } from '../helpers/smtp.js';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { until, sleep } from '../helpers/net.js';

const redisUrl = inject('redisUrl');
let t: ReturnType<typeof tempDir>;
let sink: Sink;
let relay: Awaited<ReturnType<typeof startRelay>>;
const FROM = SHOP.senders[0];

beforeAll(async () => {
  t = tempDir();
  sink = await startSink();
  const cfg = testConfig(t.dir, {
    upstream: { port: sink.port },
    relay: { maxRecipients: 100, socketTimeout: '2s', maxMessageBytes: '2MiB' },
  });
  relay = await startRelay(cfg, redisUrl, log, { queueName: uniqueName('mail') });
});
afterAll(async () => {
  await relay.close();
  await sink.close();
  t.cleanup();
});

async function transaction(c: RawSmtp, rcpts: string[], data: string | Buffer): Promise<string | null> {
  expect(await c.cmd('EHLO hostile.test')).toMatch(/^250/);
  expect(await c.cmd(`MAIL FROM:<${FROM}>`)).toMatch(/^250/);
  for (const r of rcpts) await c.cmd(`RCPT TO:<${r}>`);
  expect(await c.cmd('DATA')).toMatch(/^354/);
  c.write(data);
  return c.reply();
}

describe('hostile SMTP input', () => {
  it('pipelined commands get one reply each, in order', async () => {
    const c = await RawSmtp.open(relay.port!);
    c.write(`EHLO p.test\r\nMAIL FROM:<${FROM}>\r\nRCPT TO:<a@example.net>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n`);
    const replies = [await c.reply(), await c.reply(), await c.reply(), await c.reply(), await c.reply()];
    expect(replies.map((r) => r!.slice(0, 3))).toEqual(['250', '250', '250', '250', '354']);
    c.write('Subject: pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n');
    expect(await c.reply()).toMatch(/^250 2\.0\.0 Ok: queued as /);
    expect(await c.reply()).toMatch(/^221/);
    c.close();
  });

  it('10,000 recipients: 452 past maxRecipients, the session goes on, the message goes to the first 100', async () => {
    const c = await RawSmtp.open(relay.port!);
    await c.cmd('EHLO many.test');
    await c.cmd(`MAIL FROM:<${FROM}>`);
    c.write(Array.from({ length: 10_000 }, (_, i) => `RCPT TO:<r${i}@example.net>\r\n`).join(''));
    const codes = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const r = (await c.reply())!.slice(0, 3);
      codes.set(r, (codes.get(r) ?? 0) + 1);
    }
    expect(Object.fromEntries(codes)).toEqual({ 250: 100, 452: 9900 });
    expect(await c.cmd('DATA')).toMatch(/^354/);
    c.write('Subject: many\r\n\r\nx\r\n.\r\n');
    expect(await c.reply()).toMatch(/^250 /);
    c.close();
  });

  it('bare LF, NUL bytes, a 1 MB header line and missing headers are accepted and passed on byte for byte', async () => {
    const bodies = [
      'Subject: bare LF\nX-Odd: yes\n\nline one\nline two\n',
      'Subject: nul\r\n\r\nbefore\u0000after\r\n',
      `Subject: long\r\nX-Long: ${'a'.repeat(1_000_000)}\r\n\r\nbody\r\n`,
      'no headers at all, just text\r\n',
      'Content-Type: multipart/mixed; boundary="never-closed"\r\nSubject: =?ISO-2022-JP?B?broken?=\r\n\r\n' +
        '--never-closed\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\n\u00ff\u00fe\r\n',
    ];
    for (const [i, b] of bodies.entries()) {
      const c = await RawSmtp.open(relay.port!);
      const to = `raw${i}@example.net`;
      const sent = b.endsWith('\r\n') ? b : b + '\r\n'; // the end of data is CRLF.CRLF, bare LF or not
      expect(await transaction(c, [to], Buffer.from(sent + '.\r\n', 'latin1'))).toMatch(/^250 /);
      c.close();
      await until(() => sink.messages.find((m) => m.to.includes(to)), 15_000, `message ${i} at the sink`);
      const got = sink.messages.find((m) => m.to.includes(to))!.raw.toString('latin1');
      // On the wire SMTP lines end in CRLF: a bare LF goes out as CRLF (as Postfix sends it too).
      expect(got.replace(/^Received: [^]*?\(zaiko-bridge\)[^]*?;\r\n\t[^\r\n]+\r\n/, '')).toBe(sent.replace(/\r?\n/g, '\r\n'));
    }
  });

  it('slow-loris: a silent client is cut at socketTimeout; the relay keeps serving', async () => {
    const c = await RawSmtp.open(relay.port!);
    c.write('EHLO slow');
    await until(() => c.closed, 10_000, 'server to close an idle connection');
    expect(
      (await sendMail({ port: relay.port!, from: FROM, to: ['after@example.net'], raw: 'Subject: after\r\n\r\nx\r\n' })).response,
    ).toMatch(/^250 /);
  });
});

describe('disk full', () => {
  it('answers 451 when the spool cannot be written, keeps no partial file, and recovers when space returns', async () => {
    const d = tempDir();
    const spool = join(d.dir, 'data', 'spool');
    mkdirSync(spool, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', spool]);
    const s = await startSink();
    const cfg = testConfig(d.dir, { dataDir: join(d.dir, 'data'), upstream: { port: s.port } });
    const r = await startRelay(cfg, redisUrl, log, { queueName: uniqueName('mail') });
    try {
      const filler = await RawSmtp.open(r.port!);
      const big = `Subject: big\r\n\r\n${('x'.repeat(998) + '\r\n').repeat(400)}.\r\n`; // ~400 KB > 256 KiB of spool
      expect(await transaction(filler, ['big@example.net'], big)).toMatch(/^451 4\.3\.0 /);
      filler.close();
      expect(readdirSync(spool)).toEqual([]);
      expect(r.ledger.list({ limit: 5 })).toEqual([]);
      // Space is back (the big one is gone): the next message is accepted and delivered.
      expect(
        (await sendMail({ port: r.port!, from: FROM, to: ['small@example.net'], raw: 'Subject: small\r\n\r\nok\r\n' })).response,
      ).toMatch(/^250 /);
      await until(() => s.messages.some((m) => m.to.includes('small@example.net')), 15_000, 'small message delivered');
    } finally {
      await r.close();
      await s.close();
      await sleep(100);
      execFileSync('umount', [spool]);
      d.cleanup();
    }
  });
});
