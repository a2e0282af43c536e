// Connection slots and idle sessions: outsiders cannot hold more than maxClientsPerAddress sessions
// from one address, cannot take the slots kept for allowedClients, and cannot keep a session alive
// forever with NOOP/RSET/HELO (junkCommandLimit) or at all past maxSessionTime.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { relayPerTest } from '../helpers/relay.js';
import { SHOP, log } from '../helpers/env.js';
import { SessionLimits } from '../../src/relay/receive/session-limits.js';
import { clientKey } from '../../src/net/address-list.js';
import { sendMail } from '../helpers/smtp.js';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { sleep } from '../helpers/net.js';
import { probeEhlo, EHLO_WITHIN_MS } from '../helpers/hostile.js';

const fx = relayPerTest();
let open: RawSmtp[] = [];

const boot = (relayOverrides: Record<string, unknown> = {}) => fx.start({ relay: { allowedClients: ['127.0.0.1/32'], ...relayOverrides } });
async function connect(port: number, from: string): Promise<RawSmtp> {
  const c = await RawSmtp.open(port, from);
  open.push(c);
  return c;
}
async function expectEhloAnswered(port: number): Promise<void> {
  const p = await probeEhlo(port);
  expect(p.reply).toMatch(/^250/);
  expect(p.ms).toBeLessThan(EHLO_WITHIN_MS);
}

beforeEach(() => {
  open = [];
});
afterEach(() => {
  for (const c of open) c.close(); // before the fixture's own afterEach stops the relay
});

describe('relay: connection slots', () => {
  it('10 sessions from one outside address; the 11th gets 421, another address and the cart still get in', async () => {
    const port = await boot();
    for (let i = 0; i < 10; i++) expect((await connect(port, '127.0.0.2')).greeting).toMatch(/^220 /);
    const eleventh = await connect(port, '127.0.0.2');
    expect(eleventh.greeting).toMatch(/^421 4\.7\.0 /);
    expect(await eleventh.reply()).toBeNull(); // and closed
    expect((await connect(port, '127.0.0.3')).greeting).toMatch(/^220 /);
    await expectEhloAnswered(port);
  });

  it('outsiders holding every slot they can get do not starve an allowed client', async () => {
    const port = await boot({ maxClients: 10, maxClientsPerAddress: 2 });
    const greetings: string[] = [];
    for (const last of [2, 3, 4, 5, 6, 7]) {
      for (let i = 0; i < 2; i++) greetings.push((await connect(port, `127.0.0.${last}`)).greeting!.slice(0, 9));
    }
    expect(greetings.filter((g) => g.startsWith('220')).length).toBe(8); // 10 minus the fifth kept for allowedClients
    expect(greetings.filter((g) => g === '421 4.3.2').length).toBe(4);
    await expectEhloAnswered(port);
    const raw = 'Subject: still served\r\n\r\nx\r\n';
    const r = await sendMail({ port, from: SHOP.senders[0], to: ['customer@example.net'], raw, localAddress: '127.0.0.1' });
    expect(r.response).toMatch(/^250 /);
  });
});

describe('relay: idle sessions', () => {
  it('junk commands: the 101st command without a message gets 421 and the session is closed', async () => {
    const port = await boot();
    const c = await connect(port, '127.0.0.2');
    const junk = ['NOOP', 'RSET', 'HELO junk.test', `MAIL FROM:<${SHOP.senders[0]}>`]; // outsider: MAIL is refused, so junk too
    c.write(Array.from({ length: 150 }, (_, i) => `${junk[i % junk.length]}\r\n`).join(''));
    const replies: string[] = [];
    for (let r = await c.reply(); r !== null; r = await c.reply()) replies.push(r.slice(0, 3));
    expect(replies.slice(0, 100).every((code) => code === '250' || code === '554')).toBe(true);
    expect(replies.slice(100)).toEqual(['421']);
    await expectEhloAnswered(port);
  });

  it('an allowed client passing messages is not junk: 60 NOOPs, a message, 60 NOOPs, another message', async () => {
    const port = await boot();
    const c = await connect(port, '127.0.0.1');
    expect(await c.cmd('EHLO cart.test')).toMatch(/^250/);
    for (let round = 0; round < 2; round++) {
      c.write('NOOP\r\n'.repeat(60));
      for (let i = 0; i < 60; i++) expect(await c.reply()).toMatch(/^250/);
      expect(await c.cmd(`MAIL FROM:<${SHOP.senders[0]}>`)).toMatch(/^250/);
      expect(await c.cmd('RCPT TO:<customer@example.net>')).toMatch(/^250/);
      expect(await c.cmd('DATA')).toMatch(/^354/);
      c.write('Subject: not junk\r\n\r\nx\r\n.\r\n');
      expect(await c.reply()).toMatch(/^250 /);
    }
  });

  it('maxSessionTime: the first command after it gets 421 and the session is closed', async () => {
    const port = await boot({ maxSessionTime: '1s' });
    const c = await connect(port, '127.0.0.2');
    expect(await c.cmd('EHLO slow.test')).toMatch(/^250/);
    await sleep(1200);
    expect(await c.cmd('NOOP')).toMatch(/^421 4\.4\.2 /);
    expect(await c.reply()).toBeNull();
    await expectEhloAnswered(port);
  });
});

describe('relay: connection slots count an IPv6 client per /64', () => {
  // Loopback has one IPv6 address, so this drives the slot keeper smtp-server's onConnect calls.
  it('addresses of one /64 share maxClientsPerAddress; the next /64 and IPv4 have their own', () => {
    const limits = new SessionLimits(
      { maxClients: 100, maxClientsPerAddress: 3, junkCommandLimit: 100, maxSessionMs: 60_000 },
      () => false,
      log,
    );
    const admit = (id: string, address: string) => limits.admit(id, address)?.message ?? null;
    expect([
      admit('a', '2001:db8:1:2::1'),
      admit('b', '2001:db8:1:2:ffff::9'),
      admit('c', '2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd'),
    ]).toEqual([null, null, null]);
    expect(admit('d', '2001:db8:1:2::1:1')).toBe('4.7.0 Too many connections from 2001:db8:1:2::/64');
    expect(admit('e', '2001:db8:1:3::1')).toBeNull(); // the next /64
    expect(admit('f', '::ffff:192.0.2.1')).toBeNull();
    limits.release('a');
    expect(admit('g', '2001:db8:1:2::7')).toBeNull(); // a slot of the /64 freed
  });

  it('clientKey: IPv4 as is, IPv4-mapped as IPv4, IPv6 as its /64 whatever the spelling', () => {
    expect(
      ['192.0.2.1', '::ffff:192.0.2.1', '::1', 'fe80::1%eth0', '2001:db8::', '2001:DB8:0:0:1::', '64:ff9b::192.0.2.1'].map(clientKey),
    ).toEqual(['192.0.2.1', '192.0.2.1', '0:0:0:0::/64', 'fe80:0:0:0::/64', '2001:db8:0:0::/64', '2001:db8:0:0::/64', '64:ff9b:0:0::/64']);
  });
});
