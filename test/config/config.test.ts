import { describe, it, expect } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateConfig, loadConfig, maskSecrets } from '../../src/config/load.js';
import { parseDurationMs, parseSizeBytes, formatAge } from '../../src/config/units.js';
import { hashPassword, verifyPassword } from '../../src/config/password.js';
import { BridgeError } from '../../src/errors/codes.js';
import { tempDir } from '../helpers/env.js';

const shop = { id: 'croft-zakka', zaikoRobot: { userId: 'zr', password: 'pw' } };

function problems(raw: unknown): string[] {
  try {
    validateConfig(raw, '/etc/zb', {});
  } catch (err) {
    expect(err).toBeInstanceOf(BridgeError);
    expect((err as BridgeError).exitCode).toBe(78);
    return (err as Error).message.split('\n');
  }
  throw new Error('expected the config to be refused');
}

const ISSUE_EXAMPLE = `
dataDir: ./data                 # SQLite database and mail spool
redis:
  url: ""
relay:
  host: 127.0.0.1
  port: 2525
  hostname: relay.zaiko-bridge.local
  allowedClients: ["127.0.0.1/32", "::1/128"]
  users: []
  maxMessageBytes: 26214400
  maxRecipients: 100
upstream:
  host: 127.0.0.1
  port: 2526
  secure: false
  requireTLS: false
delivery:
  maxLifetime: 5d
receiver:
  host: 127.0.0.1
  port: 8080
  path: /api/zaikorobot.php
  waitMs: 10000
shops:
  - id: croft-zakka
    senders: ["order@croft-zakka.example.jp"]
    forwardTo: "import-croft@zaikorobot.example"
    forwardOnce: order-number
    orderMail:
      subject: "ご注文ありがとうございます"
      orderNumber: "注文番号[:：]\\\\s*([0-9A-Za-z-]+)"
      item: { code: "商品コード[:：]\\\\s*(\\\\S+)", quantity: "数量[:：]\\\\s*(\\\\d+)" }
    zaikoRobot: { userId: zr-croft01, password: s3cret-pass }
    uploadCharset: auto
`;

describe('config', () => {
  it('loads the example from the foundation issue as it is, with defaults and resolved paths', () => {
    const t = tempDir();
    const file = join(t.dir, 'zb.yaml');
    writeFileSync(file, ISSUE_EXAMPLE);
    const { config } = loadConfig(file, {});
    expect(config.dataDir).toBe(join(t.dir, 'data'));
    expect(config.delivery.maxLifetime).toBe(5 * 86_400_000);
    expect(config.delivery.backoff).toEqual({ initial: 300_000, max: 3_600_000 });
    expect(config.receiver.waitMs).toBe(10_000);
    expect(config.receiver.maxBytes).toBe(32 * 1024 * 1024);
    expect(config.shops[0].orderMail.orderNumber).toBe('注文番号[:：]\\s*([0-9A-Za-z-]+)');
    expect(config.receiver.reportAsNg).toEqual(['unknown_code', 'invalid_stock', 'variant_product']);
    expect(Object.isFrozen(config.relay)).toBe(true);
    t.cleanup();
  });

  it('loads the shipped example config', () => {
    const { config } = loadConfig(join(import.meta.dirname, '../../config/example.yaml'), {});
    expect(config.upstream.outbox).toMatch(/data\/outbox$/);
    expect(config.shops).toHaveLength(1);
  });

  it('lists every problem on its own line, by path', () => {
    const lines = problems({
      relay: { port: 'x', bogus: 1, allowedClients: ['10.0.0.0/33'], maxMessageBytes: '12 parsecs', socketTimeout: 'soon' },
      shops: [{ id: 'Bad Id', forwardTo: 'not-an-address', orderMail: { subject: '(' }, zaikoRobot: { userId: 'zr' } }],
    });
    expect(lines).toEqual(
      expect.arrayContaining([
        'relay.bogus: unknown key',
        expect.stringMatching(/^relay\.port: /),
        expect.stringMatching(/^relay\.allowedClients\[0\]: invalid CIDR/),
        expect.stringMatching(/^relay\.maxMessageBytes: invalid size/),
        expect.stringMatching(/^relay\.socketTimeout: invalid duration/),
        'shops[0].id: must match [a-z0-9-]+',
        'shops[0].forwardTo: invalid email',
        'shops[0].orderMail.subject: invalid regular expression: /(/u: Unterminated group',
        'shops[0].zaikoRobot.password: required',
      ]),
    );
    expect(lines).toHaveLength(9);
  });

  it('refuses unknown top-level keys, duplicate shops and users, bad enums', () => {
    expect(problems({ dataDirr: 'x' })).toEqual(['dataDirr: unknown key']);
    expect(problems({ shops: [shop, shop] })).toEqual([
      'shops[1].id: duplicate shop id croft-zakka',
      'shops[1].zaikoRobot.userId: duplicate userId zr',
    ]);
    expect(problems({ shops: [{ ...shop, forwardOnce: 'sometimes' }] })[0]).toMatch(/^shops\[0\]\.forwardOnce: /);
    expect(problems({ redis: { url: 'http://x' } })[0]).toMatch(/^redis\.url: must be empty/);
    expect(problems('just a string')[0]).toMatch(/must be a mapping/);
  });

  it("takes console.timeZone from V8's list, and aliases the list does not hold; refuses unknown zones", () => {
    for (const timeZone of ['Asia/Tokyo', 'UTC', 'Asia/Calcutta', 'asia/tokyo', 'Etc/GMT-9'])
      expect(validateConfig({ console: { timeZone } }, '/x', {}).console.timeZone).toBe(timeZone);
    expect(problems({ console: { timeZone: 'Mars/Olympus_Mons' } })).toEqual([
      'console.timeZone: unknown time zone (use an IANA name such as Asia/Tokyo)',
    ]);
  });

  it('applies environment overrides before validation', () => {
    const cfg = validateConfig({ upstream: { auth: { user: 'u', pass: 'p' } }, shops: [shop] }, '/x', {
      ZAIKO_BRIDGE_REDIS_URL: 'redis://127.0.0.1:7000',
      ZAIKO_BRIDGE_UPSTREAM_PASS: 'from-env',
      ZAIKO_BRIDGE_SHOP_CROFT_ZAKKA_PASSWORD: 'shop-env',
    });
    expect(cfg.redis.url).toBe('redis://127.0.0.1:7000');
    expect(cfg.upstream.auth?.pass).toBe('from-env');
    expect(cfg.shops[0].zaikoRobot.password).toBe('shop-env');
  });

  it('reports a missing file and broken YAML as config errors', () => {
    expect(() => loadConfig('/nonexistent/zb.yaml', {})).toThrow(/config file not found/);
    const t = tempDir();
    const file = join(t.dir, 'bad.yaml');
    writeFileSync(file, 'relay:\n  port: [1,\n');
    expect(() => loadConfig(file, {})).toThrow(/not valid YAML/);
    t.cleanup();
  });

  it('masks secrets for config check', () => {
    const cfg = validateConfig(
      { redis: { url: 'redis://user:pw@h:1' }, relay: { users: [{ name: 'cart', password: 'x' }] }, shops: [shop] },
      '/x',
      {},
    );
    const text = JSON.stringify(maskSecrets(cfg));
    expect(text).not.toContain('"pw"');
    expect(text).not.toContain(':pw@');
    expect(text).toContain('********');
  });
});

describe('units and passwords', () => {
  it('parses durations and sizes', () => {
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('5d')).toBe(432_000_000);
    expect(parseDurationMs(1500)).toBe(1500);
    expect(parseDurationMs('5 weeks')).toBeUndefined();
    expect(parseSizeBytes('32MiB')).toBe(33_554_432);
    expect(parseSizeBytes('512KiB')).toBe(524_288);
    expect(parseSizeBytes(-1)).toBeUndefined();
    expect(formatAge(3 * 60_000)).toBe('3m');
    expect(formatAge(2 * 3_600_000)).toBe('2h');
    expect(formatAge(5 * 86_400_000)).toBe('5d');
  });

  it('verifies plain and scrypt passwords', async () => {
    const h = await hashPassword('s3cret');
    expect(h).toMatch(/^scrypt\$/);
    expect(await verifyPassword('s3cret', h)).toBe(true);
    expect(await verifyPassword('s3cret!', h)).toBe(false);
    expect(await verifyPassword('plain', 'plain')).toBe(true);
    expect(await verifyPassword('plai', 'plain')).toBe(false);
    expect(await verifyPassword('', undefined)).toBe(false);
  });

  it('remembers a password that matched: the same one is still right, others and unknown users still wrong', async () => {
    const h = await hashPassword('again');
    for (let i = 0; i < 3; i++) {
      expect(await verifyPassword('again', h)).toBe(true);
      expect(await verifyPassword('again!', h)).toBe(false);
      expect(await verifyPassword('again', 'plain-again')).toBe(false);
      expect(await verifyPassword('plain-again', 'plain-again')).toBe(true);
      expect(await verifyPassword('plain-again ', 'plain-again')).toBe(false);
      expect(await verifyPassword('again', undefined, h)).toBe(false); // an unknown user, even with a known password
    }
    // A new configured password (a reload): the old one no longer passes against it.
    const h2 = await hashPassword('changed');
    expect(await verifyPassword('again', h2)).toBe(false);
    expect(await verifyPassword('changed', h2)).toBe(true);
  });
});
