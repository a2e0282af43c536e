// Connection slots and idle sessions: outsiders cannot hold more than maxClientsPerAddress sessions
// from one address, cannot take the slots kept for allowedClients, and cannot keep a session alive
// forever with NOOP/RSET/HELO (junkCommandLimit) or at all past maxSessionTime.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { relayPerTest } from '../helpers/relay.js';
import { SHOP } from '../helpers/env.js';
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
