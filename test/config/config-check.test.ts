// `config check` as a person reads it: what was expected and what was written, where a YAML file
// breaks, why a regex is refused, warnings for a valid but doubtful config, durations and sizes as
// written, and the production template accepted as shipped.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { tempDir, SHOP } from '../helpers/env.js';
import { run } from '../helpers/cli.js';
import { validateConfig } from '../../src/config/load.js';
import { configWarnings, formatUnit } from '../../src/config/check.js';
import { DEMO_CONSOLE_USER } from '../../src/config/demo.js';

/** Another scrypt hash (of "operator-own"), printed by `config hash-password`. */
const OWN_HASH = 'scrypt$16384$8$1$SqaQ6ZVhoJn4wLD0NWKsww==$Pzje61qjRzrB5+CA0DL4BMcCVViblGQFRW0WOxLU3k4=';

let t: ReturnType<typeof tempDir>;
let config: string;
const check = (doc: string | object, env: Record<string, string> = {}) => {
  writeFileSync(config, typeof doc === 'string' ? doc : stringify(doc));
  return run(['config', 'check', '--config', config], { env });
};

beforeEach(() => {
  t = tempDir();
  config = join(t.dir, 'zb.yaml');
});
afterEach(() => t.cleanup());

describe('config check messages', () => {
  it('says what was expected and what was written', () => {
    const r = check({
      relay: { port: 'twenty', allowInsecureAuth: 'yes', socketTimeout: true },
      log: { level: 'loud' },
      shops: [{ ...SHOP, orderMail: { subject: '(ご注文' } }],
    });
    expect(r.code).toBe(78);
    expect(r.stderr.trim().split('\n').sort()).toEqual(
      [
        'log.level: expected one of trace, debug, info, warn, error, fatal, silent, got "loud"',
        'relay.allowInsecureAuth: expected true or false, got "yes"',
        'relay.port: expected a number, got "twenty"',
        'relay.socketTimeout: expected a string or a number, got true',
        'shops[0].orderMail.subject: invalid regular expression: /(ご注文/u: Unterminated group',
      ]
        .map((l, i) => (i === 0 ? `zaiko-bridge: ${l}` : l))
        .sort(),
    );
  });

  it('names line, column and the line itself for broken YAML', () => {
    const r = check('dataDir: ./data\nrelay:\n  port: 2525\n   host: x\n');
    expect(r.code).toBe(78);
    const lines = r.stderr.split('\n');
    expect(lines[0]).toBe(`zaiko-bridge: ${config}:3:9: not valid YAML: Nested mappings are not allowed in compact mappings`);
    expect(lines.slice(1, 3)).toEqual(['    port: 2525', '          ^']);
  });
});

describe('config check warnings and output', () => {
  it('warns on stderr (exit 0) about no shops and about spool.keepDays 0', () => {
    const r = check({ dataDir: './data' });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      'warning: shops: none configured: no mail is recognised as an order and every upload is refused (auth_error)\n' +
        'warning: spool.keepDays: 0 removes each spool file once delivered: mail show --raw and mail resend then cannot work ' +
        '(1 or more keeps them)\n',
    );
  });

  it('warns about a shop without forwardTo', () => {
    const { forwardTo: _, ...noForward } = SHOP;
    const r = check({ dataDir: './data', spool: { keepDays: 3 }, shops: [noForward] });
    expect([r.code, r.stderr]).toEqual([
      0,
      'warning: shops[0].forwardTo: not set for shop croft-zakka: its order mails are delivered but never forwarded to zaiko Robot\n',
    ]);
  });

  it('warns about a relative dataDir in a config under /etc', () => {
    const path = '/etc/zaiko-bridge/zaiko-bridge.yaml';
    const raw = { dataDir: './data', spool: { keepDays: 1 }, shops: [SHOP] };
    const cfg = validateConfig(structuredClone(raw), '/etc/zaiko-bridge', {});
    expect(configWarnings(cfg, raw, path)).toEqual([
      `dataDir: "./data" is relative to ${path}'s folder (/etc/zaiko-bridge/data); ` +
        'on a host write an absolute path such as /var/lib/zaiko-bridge',
    ]);
    expect(configWarnings(cfg, raw, join(t.dir, 'zb.yaml'))).toEqual([]);
    const absolute = { ...raw, dataDir: '/var/lib/zb' };
    expect(configWarnings(validateConfig(structuredClone(absolute), '/etc/zaiko-bridge', {}), absolute, path)).toEqual([]);
  });

  it('warns about the demo console user of config/example.yaml on a console.host others can reach', () => {
    const demo = { console: { users: [{ name: 'demo', password: DEMO_CONSOLE_USER.hash }] } };
    const raw = { dataDir: './data', spool: { keepDays: 1 }, shops: [SHOP] };
    const warnings = (host?: string) => {
      const doc = { ...raw, console: { ...demo.console, ...(host ? { host } : {}) } };
      return configWarnings(validateConfig(structuredClone(doc), t.dir, {}), doc, config);
    };
    expect([warnings(), warnings('127.0.0.1'), warnings('::1'), warnings('localhost')]).toEqual([[], [], [], []]);
    for (const host of ['0.0.0.0', '192.0.2.10', '::']) {
      expect(warnings(host)).toEqual([
        `console.users: the demo user of config/example.yaml (password published) on console.host ${host}, ` +
          'reachable from other hosts: remove it and add your own (config hash-password)',
      ]);
    }
    // The same name with another password is a user of the operator's own.
    const own = { ...raw, console: { host: '0.0.0.0', users: [{ name: 'demo', password: OWN_HASH }] } };
    expect(configWarnings(validateConfig(structuredClone(own), t.dir, {}), own, config)).toEqual([]);
  });

  it('prints durations and sizes as written, defaults in their units', () => {
    const r = check({
      dataDir: './data',
      spool: { keepDays: 1 },
      relay: { socketTimeout: '90s', maxMessageBytes: 1048576 },
      delivery: { maxLifetime: '120h' },
      receiver: { waitMs: 10000 },
      shops: [SHOP],
    });
    expect(r.code).toBe(0);
    for (const line of [
      'socketTimeout: 90s',
      'maxMessageBytes: 1MiB',
      'maxLifetime: 120h',
      'waitMs: 10s',
      'initial: 5m',
      'max: 1h',
      'maxBytes: 32MiB',
      'window: 15m',
    ]) {
      expect(r.stdout).toContain(`  ${line}\n`);
    }
    expect(r.stdout).not.toMatch(/432000000|33554432|300000/);
    expect([formatUnit(1500, 'duration'), formatUnit(1000, 'size'), formatUnit(0, 'duration')]).toEqual(['1500ms', 1000, 0]);
  });

  it('accepts config/production.yaml as shipped, with the password from the environment as the template says', () => {
    expect(readFileSync(join(import.meta.dirname, '..', '..', 'config', 'production.yaml'), 'utf8')).not.toContain(DEMO_CONSOLE_USER.hash);
    const r = run(['config', 'check', '--config', join(import.meta.dirname, '..', '..', 'config', 'production.yaml')], {
      env: { ZAIKO_BRIDGE_SHOP_MY_SHOP_PASSWORD: 'from-the-env-file' },
    });
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain('dataDir: /var/lib/zaiko-bridge\n');
    expect(r.stdout).not.toContain('outbox');
    expect(r.stdout).not.toContain('from-the-env-file');
  });
});
