// shops[].cart.webhook at config time: stock is pushed only over https (or to a loopback host, or with
// allowInsecure), the secret is a Standard Webhooks one, and `config check` never prints it.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { tempDir, SHOP } from '../helpers/env.js';
import { run } from '../helpers/cli.js';

let t: ReturnType<typeof tempDir>;
let config: string;
const SECRET = `whsec_${Buffer.alloc(24, 1).toString('base64')}`;
const check = (webhook: Record<string, unknown>) => {
  writeFileSync(config, stringify({ shops: [{ ...SHOP, cart: { webhook } }] }));
  return run(['config', 'check', '--config', config]);
};

beforeEach(() => {
  t = tempDir();
  config = join(t.dir, 'zb.yaml');
});
afterEach(() => t.cleanup());

describe('shops[].cart.webhook', () => {
  it('refuses http:// to a host that is not loopback, and any other scheme', () => {
    for (const url of ['http://shop.example.jp/hook.php', 'http://192.0.2.10/hook.php', 'ftp://shop.example.jp/x', 'not a url']) {
      const r = check({ url, secret: SECRET });
      expect(r.code).toBe(78);
      expect(r.stderr).toMatch(/^zaiko-bridge: shops\[0\]\.cart\.webhook\.url: (must be https|not a URL)/);
    }
  });

  it('takes https://, http:// to loopback, and http:// elsewhere with allowInsecure', () => {
    for (const webhook of [
      { url: 'https://shop.example.jp/hook.php' },
      { url: 'http://127.0.0.1:8088/hook.php' },
      { url: 'http://[::1]/hook.php' },
      { url: 'http://localhost/hook.php' },
      { url: 'http://192.0.2.10/hook.php', allowInsecure: true },
    ]) {
      const r = check({ ...webhook, secret: SECRET });
      expect(r.stderr.split('\n').filter((l) => !l.startsWith('warning:'))).toEqual(['']);
      expect(r.code).toBe(0);
    }
  });

  it('wants a whsec_ secret of at least 24 bytes, with the url', () => {
    const short = `whsec_${Buffer.alloc(23, 1).toString('base64')}`;
    for (const secret of [short, 'whsec_not base64!', Buffer.alloc(32).toString('base64'), '']) {
      const r = check({ url: 'https://shop.example.jp/hook.php', secret });
      expect(r.code).toBe(78);
      expect(r.stderr).toMatch(/^zaiko-bridge: shops\[0\]\.cart\.webhook\.secret: must be whsec_<base64 of at least 24 bytes>/);
    }
    const r = check({ url: 'https://shop.example.jp/hook.php' });
    expect(r.stderr).toBe('zaiko-bridge: shops[0].cart.webhook.secret: required\n');
  });

  it('shows the defaults and masks the secret (and a password in the url)', () => {
    const r = check({ url: 'https://cart:pw@shop.example.jp/hook.php', secret: SECRET });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(SECRET.slice(6));
    expect(r.stdout).not.toContain('cart:pw');
    expect(r.stdout).toMatch(/secret: "\*{8}"/);
    expect(r.stdout).toMatch(/timeout: 10000\n\s+batchMax: 500\n\s+sources:\n\s+- upload\n\s+allowInsecure: false/);
  });

  it('config gen-secret prints a secret the config takes', () => {
    const out = run(['config', 'gen-secret']);
    expect(out.code).toBe(0);
    const secret = out.stdout.trim();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(run(['config', 'gen-secret']).stdout.trim()).not.toBe(secret);
    expect(check({ url: 'https://shop.example.jp/hook.php', secret }).code).toBe(0);
  });
});
