// What a reload swaps in: the new file's config, with the running value of every key read once at start,
// frozen like every config; listeners see the swap, readers that took the old object keep it.
import { describe, it, expect } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { ConfigHolder, keepRestartKeys } from '../../src/config/holder.js';
import { SHOP } from '../helpers/env.js';

const cfg = (doc: Record<string, unknown>) => validateConfig(structuredClone(doc), '/srv/zb', {});
const base = { dataDir: '/srv/zb/data', instance: 'mx1', shops: [SHOP] };

describe('keepRestartKeys', () => {
  it('takes reloadable keys from the file and keeps restart keys running, naming each', () => {
    const running = cfg(base);
    const next = cfg({
      ...base,
      dataDir: '/elsewhere',
      instance: 'mx2',
      redis: { url: 'redis://:secret@10.0.0.5:6379' },
      relay: { port: 2626, users: [{ name: 'cart', password: 'pw-123' }], maxMessageBytes: '1MiB' },
      upstream: { host: 'smarthost.example' },
      log: { level: 'debug' },
      shops: [SHOP, { ...SHOP, id: 'second', senders: ['@second.example'], zaikoRobot: { userId: 'zr-2', password: 'pw-2' } }],
    });
    const { config, kept } = keepRestartKeys(running, next);
    expect(kept).toEqual(['dataDir', 'instance', 'redis', 'relay.port', 'upstream']);
    expect([config.dataDir, config.instance, config.redis.url, config.relay.port, config.upstream.host]).toEqual([
      '/srv/zb/data',
      'mx1',
      '',
      2525,
      '127.0.0.1',
    ]);
    expect([config.relay.users.length, config.relay.maxMessageBytes, config.log.level, config.shops.map((s) => s.id)]).toEqual([
      1,
      1024 * 1024,
      'debug',
      ['croft-zakka', 'second'],
    ]);
    expect(Object.isFrozen(config) && Object.isFrozen(config.shops[1]) && Object.isFrozen(config.relay.users[0])).toBe(true);
  });

  it('reloads a certificate path but keeps STARTTLS and XFORWARD on or off as they started', () => {
    const tls = (cert: string) => ({ ...base, relay: { tls: { key: 'k.pem', cert }, xforwardClients: ['127.0.0.1/32'] } });
    const swapped = keepRestartKeys(cfg(tls('a.pem')), cfg(tls('b.pem')));
    expect([swapped.kept, swapped.config.relay.tls?.cert]).toEqual([[], '/srv/zb/b.pem']);
    const off = keepRestartKeys(cfg(tls('a.pem')), cfg(base));
    expect(off.kept).toEqual(['relay.tls', 'relay.xforwardClients']);
    expect([off.config.relay.tls?.cert, off.config.relay.xforwardClients]).toEqual(['/srv/zb/a.pem', ['127.0.0.1/32']]);
    const on = keepRestartKeys(cfg(base), cfg(tls('a.pem')));
    expect([on.kept, on.config.relay.tls]).toEqual([['relay.tls', 'relay.xforwardClients'], undefined]);
  });
});

describe('ConfigHolder', () => {
  it('swaps the whole object: a reader that took the old one keeps it, listeners see both', () => {
    const first = cfg(base);
    const holder = new ConfigHolder(first);
    const seen: string[] = [];
    holder.onChange((next, previous) => seen.push(`${previous.log.level}→${next.log.level}`));
    const session = holder.get();
    holder.replace(cfg({ ...base, log: { level: 'warn' } }));
    expect([session.log.level, holder.get().log.level, seen]).toEqual(['info', 'warn', ['info→warn']]);
    expect(ConfigHolder.of(holder)).toBe(holder);
    expect(ConfigHolder.of(first).get()).toBe(first);
  });
});
