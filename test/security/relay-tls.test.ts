// The relay's STARTTLS as an auditor checks it, with the auditor's own tool (openssl s_client
// -starttls smtp): no TLS 1.0 or 1.1, no CBC suite, no key exchange without ECDHE, client-initiated
// renegotiation refused; TLS 1.3 and the TLS 1.2 ECDHE + AES-GCM an older Postfix or Exim offers work.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { relayPerTest } from '../helpers/relay.js';
import { requireTool, spawnTracked } from '../helpers/processes.js';
import { until } from '../helpers/net.js';
import { sendMail } from '../helpers/smtp.js';
import { SHOP } from '../helpers/env.js';
import { orderMail } from '../helpers/order-mail.js';

const fx = relayPerTest();

async function boot(relay: Record<string, unknown> = {}): Promise<number> {
  const key = join(fx.dir, 'key.pem');
  const cert = join(fx.dir, 'cert.pem');
  execFileSync(
    requireTool('openssl'),
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=relay.test', '-days', '1', '-keyout', key, '-out', cert],
    { stdio: 'ignore' },
  );
  return fx.start({ relay: { tls: { key, cert }, ...relay } });
}

/** One handshake (asynchronous: the relay runs in this process): the protocol and suite agreed, or the alert that refused it. */
async function handshake(port: number, args: string[]): Promise<{ agreed?: string; output: string }> {
  const client = spawnTracked('openssl', ['s_client', '-starttls', 'smtp', '-connect', `127.0.0.1:${port}`, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  client.stdout!.on('data', (d) => (output += d));
  client.stderr!.on('data', (d) => (output += d));
  const exited = new Promise((r) => client.once('exit', r));
  client.stdin!.end('QUIT\r\n');
  await exited;
  const m = /New, (TLSv[\d.]+), Cipher is (\S+)/.exec(output);
  return { agreed: m && m[2] !== '(NONE)' ? `${m[1]} ${m[2]}` : undefined, output };
}

/** The TLS 1.2 suites this openssl knows (SECLEVEL 0: the client offers what old servers would take), by a test on `openssl ciphers -v`. */
function tls12Suites(keep: (line: string) => boolean): string {
  return execFileSync(requireTool('openssl'), ['ciphers', '-v', 'ALL:@SECLEVEL=0'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /\bTLSv1\.2\b|\bSSLv3\b|\bTLSv1\b/.test(l) && keep(l))
    .map((l) => l.split(/\s+/)[0])
    .join(':');
}

describe('relay STARTTLS: the handshake checks of an audit', () => {
  it('refuses TLS 1.0 and 1.1 even from a client that offers them', async () => {
    const port = await boot();
    for (const version of ['-tls1', '-tls1_1']) {
      const r = await handshake(port, [version, '-cipher', 'DEFAULT@SECLEVEL=0']);
      expect(r.agreed, r.output).toBeUndefined();
      expect(r.output).toMatch(/alert protocol version/);
    }
  });

  it('refuses every CBC suite and every TLS 1.2 suite without ECDHE; agrees on ECDHE + AEAD and on TLS 1.3', async () => {
    const port = await boot();
    const cbc = tls12Suites((l) => !/Mac=AEAD/.test(l));
    expect(cbc).toMatch(/CBC|SHA/); // the list really holds CBC suites (AES128-SHA, ECDHE-RSA-AES256-SHA384, ...)
    const refusedCbc = await handshake(port, ['-tls1_2', '-cipher', `${cbc}@SECLEVEL=0`]);
    expect(refusedCbc.agreed, refusedCbc.output).toBeUndefined();
    expect(refusedCbc.output).toMatch(/handshake failure/);
    const noEcdhe = await handshake(port, [
      '-tls1_2',
      '-cipher',
      `${tls12Suites((l) => /Mac=AEAD/.test(l) && !/Kx=ECDH/.test(l))}@SECLEVEL=0`,
    ]);
    expect(noEcdhe.agreed, noEcdhe.output).toBeUndefined();

    expect((await handshake(port, ['-tls1_2'])).agreed).toMatch(
      /^TLSv1\.2 ECDHE-RSA-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)$/,
    );
    // What a Postfix or Exim on OpenSSL 1.0.1 (2012) and later offers first.
    expect((await handshake(port, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES256-GCM-SHA384'])).agreed).toBe(
      'TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384',
    );
    expect((await handshake(port, ['-tls1_3'])).agreed).toMatch(
      /^TLSv1\.3 TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)$/,
    );
  });

  it('ends a session whose client starts a renegotiation', async () => {
    const port = await boot();
    const client = spawnTracked('openssl', ['s_client', '-starttls', 'smtp', '-connect', `127.0.0.1:${port}`, '-tls1_2'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    client.stdout!.on('data', (d) => (out += d));
    client.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => client.once('exit', (code) => r(code)));
    client.stdin!.write('EHLO auditor.test\r\n');
    await until(() => /^250 /m.test(out) || undefined, 10_000, 'EHLO over TLS');
    client.stdin!.write('R\n'); // s_client: renegotiate
    // Refused, the server ends the session: s_client exits although its stdin stays open. Allowed, the
    // session would go on and answer the NOOP.
    client.stdin!.write('NOOP\r\n');
    await until(() => client.exitCode !== null || undefined, 10_000, `the session to end:\n${out}`);
    await exited;
    expect(out).toContain('RENEGOTIATING');
    expect(out.slice(out.indexOf('RENEGOTIATING'))).not.toMatch(/^250 /m);
  });

  it('relay.tlsCiphers narrows the suites; mail still goes through STARTTLS', async () => {
    const port = await boot({ tlsCiphers: 'TLS_AES_256_GCM_SHA384:ECDHE-RSA-AES256-GCM-SHA384' });
    expect((await handshake(port, ['-tls1_2'])).agreed).toBe('TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384');
    expect((await handshake(port, ['-tls1_3'])).agreed).toBe('TLSv1.3 TLS_AES_256_GCM_SHA384');
    const sent = await sendMail({ port, from: SHOP.senders[0], to: ['customer@example.net'], raw: orderMail('T-1'), requireTLS: true });
    expect(sent.response).toMatch(/^250 /);
  });
});
