// The relay end to end: real SMTP in and out, real Redis (BullMQ), real ledger and spool files.
import { describe, it, expect, inject } from 'vitest';
import { relayPerTest } from '../helpers/relay.js';
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { FIXTURES } from '../helpers/env.js';
import { sendMail } from '../helpers/smtp.js';
import { until, freePort, startRedis } from '../helpers/net.js';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { requireTool } from '../helpers/processes.js';

const fixture = (name: string) => readFileSync(join(FIXTURES, 'mail', name));
const SENDER = 'order@croft-zakka.example.jp';
const FORWARD = 'import-croft@zaikorobot.example';
const redisUrl = inject('redisUrl');

const fx = relayPerTest();

const boot = (overrides: Record<string, any> = {}, url = redisUrl) => fx.start(overrides, { redisUrl: url, sweepMs: 300 });
/** Our Received: header is the only difference between what came in and what goes out. */
const withoutOurReceived = (raw: Buffer) =>
  raw.toString('latin1').replace(/^Received: from [^]*?\(zaiko-bridge\)[^]*?;\r\n\t[^\r\n]+\r\n/, '');

describe('relay: receive, deliver, forward once', () => {
  it('delivers the three fixtures unchanged and forwards one copy per order', async () => {
    const port = await boot();
    const replies = [];
    for (const f of ['order-iso2022jp.eml', 'order-utf8-multipart.eml', 'shipping-notice-iso2022jp.eml']) {
      replies.push(await sendMail({ port, from: SENDER, to: ['customer@example.net'], raw: fixture(f) }));
    }
    for (const r of replies) expect(r.response).toMatch(/^250 2\.0\.0 Ok: queued as Q[0-9A-Z]+$/);
    await until(() => fx.sink.messages.length === 5, 15_000, 'three deliveries and two forwards');
    const forwards = fx.sink.messages.filter((m) => m.to.includes(FORWARD));
    const deliveries = fx.sink.messages.filter((m) => m.to.includes('customer@example.net'));
    expect(forwards).toHaveLength(2);
    expect(deliveries).toHaveLength(3);
    for (const m of fx.sink.messages) {
      expect(m.from).toBe(SENDER);
      expect(m.to).toHaveLength(1);
    }
    // Byte for byte: the copy zaiko Robot gets is what the cart sent, plus our Received: on top.
    const bodies = new Set(
      ['order-iso2022jp.eml', 'order-utf8-multipart.eml'].map((f) => fixture(f).toString('latin1').replace(/\r?\n/g, '\r\n')),
    );
    for (const f of forwards) expect(bodies.has(withoutOurReceived(f.raw))).toBe(true);
    expect(forwards[0].raw.toString('latin1')).toMatch(/^Received: from .*\s+by relay\.test \(zaiko-bridge\) with ESMTP id Q/s);
    const rows = fx.relay!.ledger.list({ limit: 10 });
    expect(rows.map((r) => [r.order_number, r.forward, r.status]).sort()).toEqual(
      [
        [null, 'none', 'sent'],
        ['20261126-0001', 'sent', 'sent'],
        ['20261126-0002', 'sent', 'sent'],
      ].sort(),
    );
    const order1 = rows.find((r) => r.order_number === '20261126-0001')!;
    expect(JSON.parse(order1.items)).toEqual([
      { code: 'TNG-AI-01', quantity: 2 },
      { code: 'MZR-SET-5', quantity: 1 },
    ]);
    // Kept in the ledger (small mail): its bytes go with the final mark.
    expect(order1.spool_path).toBe('');
    const body = fx.relay!.ledger.db.prepare('SELECT COUNT(*) FROM message_bodies WHERE message_id = ?').pluck();
    await until(
      () => fx.relay!.ledger.message(order1.id)!.spool_removed === 1 && body.get(order1.id) === 0,
      5000,
      'body removed when final',
    );
  });

  it('delivers a second mail of the same order but does not forward it, and says why', async () => {
    const port = await boot();
    await sendMail({ port, from: SENDER, to: ['customer@example.net'], raw: fixture('order-iso2022jp.eml') });
    // Same order, sent again in another transaction (to the shop), with another Message-ID.
    const again = fixture('order-iso2022jp.eml').toString('latin1').replace('0001@cart', '0001b@cart');
    await sendMail({ port, from: SENDER, to: ['shop@croft-zakka.example.jp'], raw: again });
    await until(() => fx.sink.messages.length === 3, 15_000, 'two deliveries, one forward');
    expect(fx.sink.messages.filter((m) => m.to.includes(FORWARD))).toHaveLength(1);
    const suppressed = fx.relay!.ledger.list({ limit: 10 }).find((r) => r.forward === 'suppressed')!;
    expect(suppressed.forward_reason).toMatch(/^forward-once: order:20261126-0001 already forwarded with Q/);
  });

  it('of two concurrent mails of one order exactly one forwards', async () => {
    const port = await boot();
    const raw = fixture('order-utf8-multipart.eml');
    await Promise.all(Array.from({ length: 6 }, (_, i) => sendMail({ port, from: SENDER, to: [`c${i}@example.net`], raw })));
    await until(() => fx.sink.messages.length === 7, 15_000, 'six deliveries and one forward');
    expect(fx.sink.messages.filter((m) => m.to.includes(FORWARD))).toHaveLength(1);
  });

  it('refuses a client outside allowedClients (554 5.7.1) and relays nothing', async () => {
    const port = await boot({ relay: { allowedClients: ['127.0.0.1/32'] } });
    await expect(
      sendMail({ port, from: SENDER, to: ['victim@example.com'], raw: fixture('order-iso2022jp.eml'), localAddress: '127.0.0.2' }),
    ).rejects.toMatchObject({ responseCode: 554, response: expect.stringContaining('5.7.1') });
    expect(fx.relay!.ledger.list({ limit: 10 })).toHaveLength(0);
  });

  it('lets an outsider relay after AUTH over STARTTLS, and offers AUTH only after STARTTLS', async () => {
    execFileSync(
      requireTool('openssl'),
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=relay.test',
        '-days',
        '1',
        '-keyout',
        join(fx.dir, 'key.pem'),
        '-out',
        join(fx.dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const port = await boot({
      relay: {
        allowedClients: ['127.0.0.1/32'],
        users: [{ name: 'cart', password: 'pw-123' }],
        tls: { key: join(fx.dir, 'key.pem'), cert: join(fx.dir, 'cert.pem') },
      },
    });
    const base = { port, from: SENDER, to: ['customer@example.net'], raw: fixture('order-iso2022jp.eml'), localAddress: '127.0.0.2' };
    await expect(sendMail({ ...base, auth: { user: 'cart', pass: 'wrong' }, requireTLS: true })).rejects.toMatchObject({
      responseCode: 535,
    });
    expect((await sendMail({ ...base, auth: { user: 'cart', pass: 'pw-123' }, requireTLS: true })).response).toMatch(/^250 /);
    // Without TLS the server does not offer AUTH: the client sends none and, an outsider, is refused at MAIL FROM.
    await expect(sendMail({ ...base, auth: { user: 'cart', pass: 'pw-123' } })).rejects.toMatchObject({
      responseCode: 554,
      response: expect.stringContaining('5.7.1 Relay access denied'),
    });
    // A client that tries AUTH on the plain session anyway is refused for good (smtp-server: 500 not recognized; 538 would do too).
    const raw = await RawSmtp.open(port, '127.0.0.2');
    try {
      expect(await raw.cmd('EHLO outsider.example')).not.toMatch(/AUTH/);
      expect(await raw.cmd(`AUTH PLAIN ${Buffer.from('\0cart\0pw-123').toString('base64')}`)).toMatch(/^(500|538) /);
    } finally {
      raw.close();
    }
    await until(() => fx.sink.messages.length === 2, 15_000, 'delivery and forward of the authenticated mail');
  });

  it('refuses an oversize message with 552 and keeps no partial file', async () => {
    const port = await boot({ relay: { maxMessageBytes: 4096 } });
    const big = fixture('order-iso2022jp.eml').toString('latin1') + 'x'.repeat(10_000) + '\r\n';
    await expect(sendMail({ port, from: SENDER, to: ['a@example.net'], raw: big })).rejects.toMatchObject({ responseCode: 552 });
    expect(readdirSync(join(fx.cfg!.dataDir, 'spool')).filter((f) => f.endsWith('.eml'))).toEqual([]);
  });

  it('answers 452 past maxRecipients and takes the message for the recipients it accepted', async () => {
    const port = await boot({ relay: { maxRecipients: 2 } });
    const r = await sendMail({
      port,
      from: SENDER,
      to: ['a@x.example', 'b@x.example', 'c@x.example'],
      raw: fixture('shipping-notice-iso2022jp.eml'),
    });
    expect(r.rejected).toEqual(['c@x.example']);
    expect(r.rejectedErrors?.[0].responseCode).toBe(452);
    const [msg] = fx.relay!.ledger.list({ limit: 1 });
    expect(fx.relay!.ledger.recipients(msg.id).map((x) => x.address)).toEqual(['a@x.example', 'b@x.example']);
  });

  it('refuses a mail loop (100 Received: headers) with 554 5.4.6', async () => {
    const port = await boot();
    const looped =
      'Received: from a by b; Thu, 26 Nov 2026 10:00:00 +0900\r\n'.repeat(100) + fixture('order-iso2022jp.eml').toString('latin1');
    await expect(sendMail({ port, from: SENDER, to: ['a@example.net'], raw: looped })).rejects.toMatchObject({
      responseCode: 554,
      response: expect.stringContaining('5.4.6'),
    });
  });

  it('retries a recipient the upstream defers (4xx) and delivers it once', async () => {
    fx.sink.script.set('slow@example.net', [451, 451]);
    const port = await boot({ delivery: { backoff: { initial: 100, max: 400 } } });
    await sendMail({ port, from: SENDER, to: ['slow@example.net', 'fast@example.net'], raw: fixture('shipping-notice-iso2022jp.eml') });
    await until(() => fx.sink.messages.some((m) => m.to.includes('slow@example.net')), 15_000, 'deferred recipient delivered');
    await new Promise((r) => setTimeout(r, 500));
    expect(fx.sink.messages.filter((m) => m.to.includes('slow@example.net'))).toHaveLength(1);
    expect(fx.sink.messages.filter((m) => m.to.includes('fast@example.net'))).toHaveLength(1);
    const [msg] = fx.relay!.ledger.list({ limit: 1 });
    const slow = fx.relay!.ledger.recipients(msg.id).find((r) => r.address === 'slow@example.net')!;
    expect([slow.status, slow.attempts]).toEqual(['sent', 3]);
  });

  it('fails a 5xx recipient at once, records it, and sends a DSN when bounces are on', async () => {
    fx.sink.script.set('gone@example.net', [550]);
    const port = await boot({ delivery: { bounces: true } });
    await sendMail({ port, from: 'sender@shop.example', to: ['gone@example.net'], raw: fixture('shipping-notice-iso2022jp.eml') });
    await until(() => fx.sink.messages.some((m) => m.to.includes('sender@shop.example')), 15_000, 'DSN to the sender');
    const dsn = fx.sink.messages.find((m) => m.to.includes('sender@shop.example'))!;
    expect(dsn.from).toBe('');
    expect(dsn.raw.toString()).toMatch(
      /report-type=delivery-status[^]*Final-Recipient: rfc822; gone@example\.net[^]*Action: failed[^]*Status: 5\.1\.1/,
    );
    const msg = fx.relay!.ledger.list({ limit: 5 }).find((r) => r.mail_from === 'sender@shop.example')!;
    expect(fx.relay!.ledger.recipients(msg.id)[0]).toMatchObject({ status: 'failed', attempts: 1 });
    // A DSN is never answered with a DSN.
    expect(fx.relay!.ledger.list({ limit: 5 }).filter((r) => r.mail_from === '')).toHaveLength(1);
  });

  it('still answers 250 with Redis down, and delivers once Redis is back (the recovery sweep)', async () => {
    const port0 = await freePort();
    const own = await startRedis(port0);
    const port = await boot({}, own.url);
    await own.stop();
    const started = Date.now();
    expect((await sendMail({ port, from: SENDER, to: ['customer@example.net'], raw: fixture('order-iso2022jp.eml') })).response).toMatch(
      /^250 /,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(fx.sink.messages).toHaveLength(0);
    const back = await startRedis(port0);
    try {
      await until(() => fx.sink.messages.length === 2, 20_000, 'delivery and forward after Redis returned');
    } finally {
      await fx.relay!.close();
      fx.relay = undefined;
      await back.stop();
    }
  });
});

describe('relay: password guessing', () => {
  it('locks an address out after 10 failed AUTHs: even the right password is refused then', async () => {
    const port = await boot({
      relay: { allowedClients: ['127.0.0.1/32'], users: [{ name: 'cart', password: 'pw-123' }], allowInsecureAuth: true },
    });
    const base = {
      port,
      from: SENDER,
      to: ['customer@example.net'],
      raw: fixture('shipping-notice-iso2022jp.eml'),
      localAddress: '127.0.0.2',
    };
    for (let i = 0; i < 10; i++)
      await expect(sendMail({ ...base, auth: { user: 'cart', pass: `guess-${i}` } })).rejects.toMatchObject({ responseCode: 535 });
    await expect(sendMail({ ...base, auth: { user: 'cart', pass: 'pw-123' } })).rejects.toMatchObject({ responseCode: 454 });
    // Another address is not affected.
    expect((await sendMail({ ...base, localAddress: '127.0.0.3', auth: { user: 'cart', pass: 'pw-123' } })).response).toMatch(/^250 /);
  });
});

describe('relay: shutdown', () => {
  it('answers 421 to new connections, lets DATA in flight finish with 250, then closes', async () => {
    const port = await boot();
    const c = await RawSmtp.open(port);
    await c.cmd('EHLO inflight.test');
    await c.cmd(`MAIL FROM:<${SENDER}>`);
    await c.cmd('RCPT TO:<late@example.net>');
    expect(await c.cmd('DATA')).toMatch(/^354/);
    c.write('Subject: in flight\r\n\r\nfirst half\r\n');
    const closing = fx.relay!.close();
    fx.relay = undefined;
    await new Promise((r) => setTimeout(r, 200));
    const late = await RawSmtp.open(port);
    expect(late.greeting).toMatch(/^421 4\.3\.2 .*shutting down/);
    expect(await late.reply()).toBeNull(); // and the server closed the connection
    c.write('second half\r\n.\r\n');
    expect(await c.reply()).toMatch(/^250 2\.0\.0 Ok: queued as /);
    await closing;
  });
});
