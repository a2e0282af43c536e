// Password checks of the upload endpoint, against the real receiver over real HTTP (issue 11): scrypt runs
// off the event loop, and an unknown sys_id costs what a known one does. Both are told by ratios of times
// measured in the same run (a costly scrypt hash makes them stand out): the loop's longest stall against
// one check's time, and an unknown id's answer time against a known id's. Old main: scryptSync stalled the
// loop for a whole check (ratio ~1) and an unknown id was answered without any (ratio ~0.01).
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { randomBytes, scryptSync } from 'node:crypto';
import { startReceiver, type RunningRole } from '../../src/roles/receiver.js';
import { tempDir, testConfig, uniqueName, log, SHOP } from '../helpers/env.js';
import { post } from '../helpers/http.js';

const PATH = '/api/zaikorobot.php';
const N = 65536; // 4× the default cost: one check takes long enough to measure well on a busy machine

function costlyHash(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, { N, r: 8, p: 1, maxmem: 256 * N * 8 });
  return `scrypt$${N}$8$1$${salt.toString('base64')}$${hash.toString('base64')}`;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('upload password checks', () => {
  let receiver: RunningRole;
  let t: ReturnType<typeof tempDir>;
  const attempt = async (sysId: string) => {
    const start = performance.now();
    const res = await post(receiver.port!, PATH, `sys_id=${sysId}&sys_pass=wrong&product[0][product_code]=A&product[0][stock]=1`);
    expect(res.text).toBe('NG\nauth_error\n');
    return performance.now() - start;
  };

  beforeAll(async () => {
    t = tempDir();
    const cfg = testConfig(t.dir, {
      receiver: { lockout: { failures: 1000 } },
      shops: [{ ...SHOP, zaikoRobot: { userId: 'zr-croft01', password: costlyHash('right') } }],
    });
    receiver = await startReceiver(cfg, inject('redisUrl'), log, { queueName: uniqueName('stock') });
  }, 60_000);
  afterAll(async () => {
    await receiver?.close();
    t?.cleanup();
  });

  it('does not stall the event loop while checking (the longest stall is far below one check)', async () => {
    await attempt('zr-croft01'); // warm up (the dummy hash is made on first use)
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    const times = await Promise.all([1, 2, 3, 4].map(() => attempt('zr-croft01')));
    h.disable();
    const stallMs = h.max / 1e6,
      checkMs = Math.min(...times);
    console.log(`4 concurrent checks: fastest answer ${checkMs.toFixed(0)} ms, longest event-loop stall ${stallMs.toFixed(0)} ms`);
    expect(stallMs / checkMs).toBeLessThan(0.5);
  }, 60_000);

  it('answers an unknown sys_id no faster than a known one', async () => {
    const known: number[] = [],
      unknown: number[] = [];
    for (let i = 0; i < 3; i++) {
      known.push(await attempt('zr-croft01'));
      unknown.push(await attempt('zr-nobody'));
    }
    console.log(`median answer: known sys_id ${median(known).toFixed(0)} ms, unknown sys_id ${median(unknown).toFixed(0)} ms`);
    expect(median(unknown) / median(known)).toBeGreaterThan(0.5);
  }, 60_000);
});
