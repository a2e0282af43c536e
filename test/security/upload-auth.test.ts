// What an unauthenticated upload leaves behind, against the real receiver over real HTTP (issue 11):
// nothing of its size in the lockout map or the log, and no password check for a sys_id that cannot exist.
import { describe, it, expect, beforeEach, afterEach, inject } from 'vitest';
import { startReceiver } from '../../src/roles/receiver.js';
import { Lockout } from '../../src/security/lockout.js';
import { tempDir, testConfig, uniqueName, stopAll, capturingLogger } from '../helpers/env.js';
import { post } from '../helpers/http.js';

const PATH = '/api/zaikorobot.php';
const MiB = 1024 * 1024;

let t: ReturnType<typeof tempDir>;
let lines: string[];
const log = () => capturingLogger(lines);
const running: { close(): unknown }[] = [];
beforeEach(() => {
  t = tempDir();
  lines = [];
});
afterEach(async () => {
  await stopAll(...running.splice(0));
  t.cleanup();
});

async function boot() {
  const receiver = await startReceiver(testConfig(t.dir), inject('redisUrl'), log(), { queueName: uniqueName('stock') });
  running.push(receiver);
  return { port: receiver.port!, lockout: () => receiver.lockout! };
}

describe('failed uploads keep nothing of their size', () => {
  it('ten failures with 4 MiB sys_ids: each is auth_error, logs show 64 escaped characters, the lockout map keeps none', async () => {
    const { port, lockout } = await boot();
    for (let i = 0; i < 10; i++) {
      const id = `evil\r\n{"level":60}${i}`.padEnd(4 * MiB, 'x');
      const res = await post(port, PATH, `sys_id=${encodeURIComponent(id)}&sys_pass=guess&product[0][product_code]=A&product[0][stock]=1`);
      expect(res.text).toBe('NG\nauth_error\n');
    }
    const refusals = lines.filter((l) => l.includes('upload refused'));
    expect(refusals).toHaveLength(10);
    for (const line of refusals) {
      expect(line.length).toBeLessThan(1024);
      const entry = JSON.parse(line);
      expect(entry.sysId).toMatch(/^evil%0D%0A\{"level":60\}\dx+…\(4194304 chars\)$/);
      expect(entry.sysId.length).toBeLessThan(64 + 40);
    }
    expect(lockout().stats.entries).toBe(0);
    console.log(`log bytes for 10 failures with 4 MiB sys_ids: ${lines.join('').length}`);
  });

  it('a wrong sys_id of configured length is counted and locks; its key stays short', async () => {
    const { port, lockout } = await boot();
    for (let i = 0; i < 10; i++) {
      const res = await post(port, PATH, 'sys_id=zr-croft0%0A&sys_pass=guess&product[0][product_code]=A&product[0][stock]=1');
      expect(res.text).toBe('NG\nauth_error\n');
    }
    expect(lockout().stats.entries).toBe(1);
    expect(lines.filter((l) => l.includes('"sysId":"zr-croft0%0A"'))).toHaveLength(10);
  });
});

describe('the lockout map (shared with SMTP AUTH) is bounded', () => {
  it('caps entries, prunes expired ones first, keeps locked ones over unlocked, hashes long keys', () => {
    let now = 0;
    const l = new Lockout({ failures: 2, windowMs: 1000, durationMs: 60_000, maxEntries: 100 }, () => now);
    l.fail('10.0.0.1', 'zr');
    l.fail('10.0.0.1', 'zr'); // locked until 60 s
    for (let i = 0; i < 1000; i++) l.fail(`10.0.1.${i}`, 'x'.repeat(10_000));
    expect(l.stats.entries).toBeLessThanOrEqual(100);
    expect(l.stats.longestKey).toBeLessThanOrEqual(256);
    expect(l.isLocked('10.0.0.1', 'zr')).toBe(true); // flooding did not evict the lock
    now = 2000; // every unlocked failure is out of its window now
    l.fail('10.0.2.1', 'y');
    expect(l.stats.entries).toBe(2);
  });
});
