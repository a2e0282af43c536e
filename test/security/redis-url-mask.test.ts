// redis.url masking: no part of a password shows, whatever characters it holds (an '@' in it used to
// leave the part after it visible), in `config check` and in the error of a command that cannot reach Redis.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { maskUrl } from '../../src/queue/redis-url.js';
import { tempDir, SHOP } from '../helpers/env.js';
import { run } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';

const PARTS = ['Xq7', 'Zk9', 'Wm4', 'Lp2'];
const PASSWORDS = ['Xq7@Zk9', 'Xq7@Zk9@Wm4', 'Xq7/Zk9@Wm4', 'Xq7?Zk9#Wm4@Lp2', 'Xq7:Zk9@Wm4'];

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

describe('redis.url masking', () => {
  it.each(PASSWORDS)('password %s: masked whole, host and database kept', (pass) => {
    const masked = maskUrl(`redis://app:${pass}@redis.internal:6390/2`);
    expect(masked).toBe('redis://****@redis.internal:6390/2');
    for (const p of PARTS) expect(masked).not.toContain(p);
  });

  it('URLs without credentials are unchanged', () => {
    expect(maskUrl('redis://127.0.0.1:6379/0')).toBe('redis://127.0.0.1:6379/0');
    expect(maskUrl('unix:///var/lib/zb/redis.sock')).toBe('unix:///var/lib/zb/redis.sock');
    expect(maskUrl('')).toBe('');
  });

  it('config check and an unreachable Redis say nothing of the password', async () => {
    const config = join(t.dir, 'zb.yaml');
    writeFileSync(config, stringify({ dataDir: './data', shops: [SHOP] }));
    const url = `redis://app:Xq7@Zk9/Wm4@127.0.0.1:${await freePort()}/0`; // nobody listens there
    const check = run(['config', 'check', '--config', config], { env: { ZAIKO_BRIDGE_REDIS_URL: url } });
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('****@127.0.0.1');
    const stats = run(['queue', 'stats', '--config', config], { env: { ZAIKO_BRIDGE_REDIS_URL: url } });
    expect(stats.code).toBe(69);
    expect(stats.stderr).toContain('****@127.0.0.1');
    for (const out of [check.stdout + check.stderr, stats.stdout + stats.stderr]) for (const p of PARTS) expect(out).not.toContain(p);
  });
});
