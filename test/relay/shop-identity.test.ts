// Whose order a mail is, by trusted facts only (design.md "Classify"): the envelope sender, the AUTH user
// and shops[].clients (the original client, which a trusted Postfix names with XFORWARD). A header From
// alone never makes a mail a shop's order. Real SMTP in and out, real Redis, real ledger.
import { describe, it, expect } from 'vitest';
import { relayPerTest } from '../helpers/relay.js';
import { SHOP } from '../helpers/env.js';
import { sendMail } from '../helpers/smtp.js';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { until } from '../helpers/net.js';
import { orderMail } from '../helpers/order-mail.js';

const SENDER = SHOP.senders[0];
const fx = relayPerTest();

const boot = (overrides: Record<string, any> = {}, shop: Record<string, any> = {}) =>
  fx.start({ shops: [{ ...SHOP, ...shop }], ...overrides });

const forwards = () => fx.sink.messages.filter((m) => m.to.includes(SHOP.forwardTo));
const claims = () => fx.relay!.ledger.db.prepare('SELECT shop_id, claim, message_id FROM forward_claims ORDER BY claim').all();

async function xforwardSession(port: number, addr: string, localAddress?: string): Promise<RawSmtp> {
  const c = await RawSmtp.open(port, localAddress);
  expect(await c.cmd('EHLO postfix.test')).toMatch(/^250/);
  expect(await c.cmd(`XFORWARD ADDR=${addr} NAME=cart.example HELO=cart.example`)).toMatch(/^250/);
  return c;
}

async function transaction(c: RawSmtp, from: string, raw: string): Promise<string | null> {
  for (const line of [`MAIL FROM:<${from}>`, 'RCPT TO:<customer@example.net>', 'DATA']) {
    const reply = await c.cmd(line);
    if (!/^(250|354)/.test(reply ?? '')) return reply;
  }
  c.write(raw.replace(/\r\n$/, '') + '\r\n.\r\n');
  return c.reply();
}

describe('trusted shop identity', () => {
  it('forged header From from an allowed client: delivered, not forwarded, claim untouched; the genuine order then forwards', async () => {
    const port = await boot();
    // MAIL FROM is the attacker's; only the header From, subject and order number look like the shop's.
    await sendMail({ port, from: 'attacker@evil.example', to: ['customer@example.net'], raw: orderMail('20261201-0007') });
    await until(() => fx.relay!.ledger.list({ limit: 5 })[0]?.status === 'sent', 10_000, 'the forged mail final (every recipient sent)');
    const forged = fx.relay!.ledger.list({ limit: 5 })[0];
    expect([forged.mail_from, forged.shop_id, forged.shop_by, forged.is_order, forged.forward]).toEqual([
      'attacker@evil.example',
      null,
      null,
      0,
      'none',
    ]);
    expect(JSON.parse(forged.flags)).toEqual([]);
    expect(forwards()).toHaveLength(0);
    expect(claims()).toEqual([]);

    await sendMail({ port, from: SENDER, to: ['customer@example.net'], raw: orderMail('20261201-0007') });
    await until(() => forwards().length === 1, 10_000, 'the genuine order forwarded');
    // The fx.sink has the copy before the worker records its 250: wait for the ledger too.
    await until(
      () => fx.relay!.ledger.list({ limit: 5 }).find((r) => r.mail_from === SENDER)?.forward === 'sent',
      10_000,
      'the forward recorded sent',
    );
    const genuine = fx.relay!.ledger.list({ limit: 5 }).find((r) => r.mail_from === SENDER)!;
    expect([genuine.shop_id, genuine.shop_by, genuine.forward]).toEqual([SHOP.id, 'sender', 'sent']);
    expect(claims()).toEqual([{ shop_id: SHOP.id, claim: 'order:20261201-0007', message_id: genuine.id }]);
  });

  it('behind a trusted XFORWARD peer, shops[].clients decides by the original client', async () => {
    const port = await boot({ relay: { xforwardClients: ['127.0.0.1/32'] } }, { clients: ['192.0.2.10/32'] });
    // The cart, through the local Postfix: its order is the shop's.
    const cart = await xforwardSession(port, '192.0.2.10');
    expect(await transaction(cart, SENDER, orderMail('20261201-0100'))).toMatch(/^250 2\.0\.0 Ok: queued as/);
    cart.close();
    // Anyone else on the internet writing the shop's envelope sender through the same Postfix: not the shop's.
    const outsider = await xforwardSession(port, '198.51.100.7');
    expect(await transaction(outsider, SENDER, orderMail('20261201-0101'))).toMatch(/^250 2\.0\.0 Ok: queued as/);
    outsider.close();
    await until(() => fx.sink.messages.length === 3, 10_000, 'two deliveries and one forward');
    expect(forwards()).toHaveLength(1);
    // The sink has the copy before the worker records its 250: wait for the ledger too.
    await until(
      () => fx.relay!.ledger.list({ limit: 5 }).some((r) => (r.subject ?? '').includes('20261201-0100') && r.forward === 'sent'),
      10_000,
      'the forward recorded sent',
    );
    const rows = fx.relay!.ledger.list({ limit: 5 });
    const facts = (n: string) => {
      const r = rows.find((x) => (x.subject ?? '').includes(n))!;
      return [r.client_address, r.shop_id, r.shop_by, r.forward];
    };
    expect(facts('20261201-0100')).toEqual(['192.0.2.10', SHOP.id, 'sender', 'sent']);
    expect(facts('20261201-0101')).toEqual(['198.51.100.7', null, null, 'none']);
  });

  it('a shop known by its clients alone takes every mail from them (shopBy client)', async () => {
    const port = await boot({ relay: { xforwardClients: ['127.0.0.1/32'] } }, { senders: [], clients: ['192.0.2.0/24'] });
    const cart = await xforwardSession(port, '192.0.2.55');
    expect(await transaction(cart, 'noreply@cart-host.example', orderMail('20261201-0200'))).toMatch(/^250/);
    cart.close();
    await until(() => forwards().length === 1, 10_000, 'the forward');
    expect(fx.relay!.ledger.list({ limit: 1 }).map((r) => [r.shop_id, r.shop_by])).toEqual([[SHOP.id, 'client']]);
  });

  it('refuses XFORWARD from a peer outside fx.relay.xforwardClients', async () => {
    // One-host entries: smtp-server itself refuses the command (and does not offer it).
    let port = await boot({ relay: { allowedClients: ['127.0.0.0/8'], xforwardClients: ['127.0.0.1/32'] } });
    const other = await RawSmtp.open(port, '127.0.0.2');
    expect(await other.cmd('EHLO x.test')).not.toMatch(/XFORWARD/);
    expect(await other.cmd('XFORWARD ADDR=192.0.2.10')).toMatch(/^550/);
    other.close();
    await fx.relay!.close();
    // A range: the command is offered, but a session that used it from outside the range sends nothing.
    port = await boot({ relay: { allowedClients: ['127.0.0.0/8'], xforwardClients: ['127.0.0.1/32', '10.0.0.0/8'] } });
    const sneaky = await xforwardSession(port, '192.0.2.10', '127.0.0.2');
    expect(await sneaky.cmd(`MAIL FROM:<${SENDER}>`)).toMatch(/^554 5\.7\.1 XFORWARD is not allowed/);
    sneaky.close();
    const trusted = await xforwardSession(port, '192.0.2.10', '127.0.0.1');
    expect(await transaction(trusted, SENDER, orderMail('20261201-0300'))).toMatch(/^250/);
    trusted.close();
  });
});
