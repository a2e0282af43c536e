// `config gen-token` prints a usable feed token and its hash; `config check` never prints either.
import { describe, it, expect, afterEach } from 'vitest';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { tempDir, SHOP } from '../helpers/env.js';
import { run } from '../helpers/cli.js';
import { tokenMatches } from '../../src/security/bearer-token.js';

let t: ReturnType<typeof tempDir> | undefined;
afterEach(() => t?.cleanup());

describe('config gen-token', () => {
  it('prints a random token and its sha256$ hash; config check masks both', () => {
    const out = run(['config', 'gen-token']);
    expect(out.code).toBe(0);
    const [, token, hash] = /^token: (\S+)\nhash: {2}(sha256\$[0-9a-f]{64})\n$/.exec(out.stdout)!;
    expect(hash).toBe(`sha256$${createHash('sha256').update(token).digest('hex')}`);
    expect(tokenMatches(hash, token)).toBe(true);
    expect(tokenMatches(token, token)).toBe(true);
    expect(tokenMatches(hash, `${token}x`)).toBe(false);
    expect(run(['config', 'gen-token']).stdout).not.toContain(token);

    t = tempDir();
    const config = join(t.dir, 'zb.yaml');
    const other = { ...SHOP, id: 'other', senders: ['o@other.example'], zaikoRobot: { userId: 'zr-o', password: 'other-pass' } };
    writeFileSync(
      config,
      stringify({
        dataDir: './data',
        shops: [
          { ...SHOP, cart: { token: hash } },
          { ...other, cart: { token } },
        ],
      }),
    );
    const check = run(['config', 'check', '--config', config]);
    expect(check.code).toBe(0);
    expect(check.stdout).not.toContain(token);
    expect(check.stdout).not.toContain(hash.slice(7));
    expect(check.stdout.match(/token: "?\*{8}/g)).toHaveLength(2);

    writeFileSync(config, stringify({ dataDir: './data', shops: [{ ...SHOP, cart: { token: 'short' } }] }));
    const bad = run(['config', 'check', '--config', config]);
    expect(bad.code).toBe(78);
    expect(bad.stderr).toContain('shops[0].cart.token: must be sha256$<64 hex digits> or a plain token of at least 16');
  });
});
