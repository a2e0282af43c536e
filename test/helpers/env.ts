// A temp data dir and a validated config per test, with unique queue names.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino, type Level, type Logger } from 'pino';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger } from '../../src/observe/logger.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
export const log = silentLogger;

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'zb-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const uniqueName = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

export const SHOP = {
  id: 'croft-zakka',
  senders: ['order@croft-zakka.example.jp'],
  forwardTo: 'import-croft@zaikorobot.example',
  orderMail: { subject: 'ご注文ありがとうございます' },
  zaikoRobot: { userId: 'zr-croft01', password: 's3cret-pass' },
};

export function testConfig(dataDir: string, overrides: Record<string, any> = {}): Config {
  const { relay, receiver, upstream, delivery, redis, ...rest } = overrides;
  return validateConfig(
    {
      dataDir,
      instance: uniqueName('t'),
      relay: { port: 0, hostname: 'relay.test', ...relay },
      receiver: { port: 0, waitMs: 5000, ...receiver },
      upstream: { ...upstream },
      delivery: { backoff: { initial: 200, max: 1000 }, ...delivery },
      // Its own key prefix: forward-once claims live in the shared test Redis, and test files reuse orders.
      redis: { prefix: uniqueName('t'), ...redis },
      shops: [SHOP],
      ...rest,
    },
    dataDir,
    {},
  );
}

/** Stops what a test started, in the order given; one failing to stop does not keep the rest running. */
export async function stopAll(...things: { close(): unknown }[]): Promise<void> {
  for (const thing of things)
    await Promise.resolve()
      .then(() => thing.close())
      .catch(() => {});
}

/** A logger that writes each JSON line into `lines` (tests that read what was logged, and what was not). */
export function capturingLogger(lines: string[], level: Level = 'info'): Logger {
  return pino({ level }, new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) }));
}
