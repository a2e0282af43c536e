// No password in clear text: without relay.tls, or before STARTTLS, AUTH is neither offered nor
// accepted (unless allowInsecureAuth); after STARTTLS it is. Against a real relay over real sockets.
import { describe, it, expect } from 'vitest';
import { relayPerTest } from '../helpers/relay.js';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { SHOP } from '../helpers/env.js';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { probeEhlo, EHLO_WITHIN_MS } from '../helpers/hostile.js';
import { requireTool } from '../helpers/processes.js';

const OUTSIDER = '127.0.0.2'; // not in allowedClients: must AUTH to relay
const USER = { name: 'cart', password: 'pw-123' };
const plain = Buffer.from(`\0${USER.name}\0${USER.password}`).toString('base64');
const fx = relayPerTest();

const boot = (relayOverrides: Record<string, unknown>) =>
  fx.start({ relay: { allowedClients: ['127.0.0.1/32'], users: [USER], ...relayOverrides } });

function makeCert(): { key: string; cert: string } {
  const key = join(fx.dir, 'key.pem');
  const cert = join(fx.dir, 'cert.pem');
  execFileSync(
    requireTool('openssl'),
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=relay.test', '-days', '1', '-keyout', key, '-out', cert],
    { stdio: 'ignore' },
  );
  return { key, cert };
}

/** AUTH PLAIN and AUTH LOGIN on a plain-text session: neither offered nor accepted, and MAIL stays refused. */
async function expectNoAuthInClear(port: number): Promise<void> {
  const c = await RawSmtp.open(port, OUTSIDER);
  const ehlo = await c.cmd('EHLO outsider.test');
  expect(ehlo).toMatch(/^250 /m);
  expect(ehlo).not.toMatch(/AUTH/);
  expect(await c.cmd(`AUTH PLAIN ${plain}`)).toMatch(/^5\d\d /);
  expect(await c.cmd('AUTH LOGIN')).toMatch(/^5\d\d /); // no 334 prompt: the client is never asked for a password
  expect(await c.cmd(`MAIL FROM:<${SHOP.senders[0]}>`)).toMatch(/^554 5\.7\.1/);
  const probe = await probeEhlo(port);
  expect(probe.reply).toMatch(/^250/);
  expect(probe.ms).toBeLessThan(EHLO_WITHIN_MS);
  c.close();
}

describe('relay: no AUTH in clear text', () => {
  it('without fx.relay.tls: AUTH is not offered and AUTH PLAIN/LOGIN are refused', async () => {
    await expectNoAuthInClear(await boot({}));
  });

  it('with fx.relay.tls: not before STARTTLS; offered and accepted after it', async () => {
    const port = await boot({ tls: makeCert() });
    await expectNoAuthInClear(port);
    const c = await RawSmtp.open(port, OUTSIDER);
    expect(await c.cmd('EHLO outsider.test')).toMatch(/STARTTLS/);
    const s = await c.starttls();
    const ehlo = await s.cmd('EHLO outsider.test');
    expect(ehlo).toMatch(/AUTH PLAIN LOGIN/);
    expect(await s.cmd(`AUTH PLAIN ${plain}`)).toMatch(/^235 /);
    expect(await s.cmd(`MAIL FROM:<${SHOP.senders[0]}>`)).toMatch(/^250 /);
    s.close();
  });

  it('allowInsecureAuth: true is the one way to AUTH on a plain session', async () => {
    const port = await boot({ allowInsecureAuth: true });
    const c = await RawSmtp.open(port, OUTSIDER);
    expect(await c.cmd('EHLO outsider.test')).toMatch(/AUTH PLAIN LOGIN/);
    expect(await c.cmd(`AUTH PLAIN ${plain}`)).toMatch(/^235 /);
    c.close();
  });
});

describe('relay: XFORWARD cannot reset the AUTH lockout', () => {
  it('an outsider that names a new client with XFORWARD before each guess is still locked out after 10', async () => {
    // A range in xforwardClients makes smtp-server accept XFORWARD from anyone (our MAIL hook refuses it
    // later); AUTH comes before MAIL, so the lockout must count the connecting peer, not the named client.
    const port = await boot({ allowInsecureAuth: true, xforwardClients: ['127.0.0.0/31'] });
    const guess = async (i: number, pass: string) => {
      const c = await RawSmtp.open(port, OUTSIDER);
      await c.cmd('EHLO outsider.test');
      expect(await c.cmd(`XFORWARD ADDR=10.0.0.${i}`)).toMatch(/^250 /);
      const answer = await c.cmd(`AUTH PLAIN ${Buffer.from(`\0${USER.name}\0${pass}`).toString('base64')}`);
      c.close();
      return answer;
    };
    for (let i = 0; i < 10; i++) expect(await guess(i, `guess-${i}`)).toMatch(/^535 /);
    expect(await guess(99, USER.password)).toMatch(/^454 /);
  });
});
