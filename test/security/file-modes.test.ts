// Files are private whatever the umask: `start` run under umask 000 (the real CLI with its private
// redis-server) creates ledger.db, stock.db (and their -wal/-shm), spool files and the Redis socket
// without any bit for others or group write, and its folders 0750.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { INLINE_LIMIT_BYTES } from '../../src/intake/spool/spool.js';
import { writeFileSync, readdirSync, lstatSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { tempDir, SHOP } from '../helpers/env.js';
import { CLI } from '../helpers/cli.js';
import { until, freePort } from '../helpers/net.js';
import { sendMail } from '../helpers/smtp.js';
import { probeEhlo, EHLO_WITHIN_MS } from '../helpers/hostile.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

/** Every path under dir with its permission bits. */
function modes(dir: string, out = new Map<string, number>()): Map<string, number> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    out.set(path, st.mode & 0o777);
    if (st.isDirectory()) modes(path, out);
  }
  return out;
}
const octal = (m: number) => m.toString(8).padStart(4, '0');

describe('file modes', () => {
  it('start under umask 000: every file and folder it creates is private', async () => {
    const data = join(t.dir, 'data');
    const relayPort = await freePort();
    const config = join(t.dir, 'zb.yaml');
    writeFileSync(
      config,
      stringify({
        dataDir: './data',
        relay: { port: relayPort },
        receiver: { port: await freePort() },
        upstream: { outbox: './data/outbox' },
        spool: { keepDays: 1 },
        shops: [SHOP],
      }),
    );
    const proc = spawn('sh', ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, CLI, 'start', '--config', config], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    proc.stderr!.on('data', (d) => {
      err += d;
    });
    try {
      await until(() => err.includes('zaiko-bridge started'), 30_000, 'start');
      // Above the spool's inline limit: a spool file, whose mode is checked below (small mail has none).
      const raw = 'Subject: modes\r\n\r\n' + `${'x'.repeat(70)}\r\n`.repeat(Math.ceil(INLINE_LIMIT_BYTES / 70) + 1);
      expect((await sendMail({ port: relayPort, from: SHOP.senders[0], to: ['customer@example.net'], raw })).response).toMatch(/^250 /);
      const delivered = () => existsSync(join(data, 'outbox')) && readdirSync(join(data, 'outbox')).some((f) => f.endsWith('.json'));
      await until(delivered, 20_000, 'delivery');
      const probe = await probeEhlo(relayPort);
      expect(probe.ms).toBeLessThan(EHLO_WITHIN_MS);

      const seen = modes(data);
      const at = (rel: string) => seen.get(join(data, rel));
      for (const f of ['ledger.db', 'ledger.db-wal', 'ledger.db-shm', 'stock.db', 'stock.db-wal', 'stock.db-shm']) {
        expect([f, octal(at(f) ?? -1)]).toEqual([f, '0640']);
      }
      const spoolFiles = readdirSync(join(data, 'spool'));
      expect(spoolFiles.length).toBe(1);
      expect(octal(at(`spool/${spoolFiles[0]}`)!)).toBe('0640');
      expect(octal(at('redis.sock')!)).toBe('0600');
      expect(octal(lstatSync(data).mode & 0o777)).toBe('0750');
      expect(octal(at('spool')!)).toBe('0750');
      expect(octal(at('outbox')!)).toBe('0750');
      // And nothing anywhere (locks, pid files, Redis' AOF, outbox) is writable by the group or open to others.
      const loose = [...seen].filter(([, m]) => (m & 0o027) !== 0).map(([p, m]) => `${p.slice(data.length + 1)} ${octal(m)}`);
      expect(loose).toEqual([]);
    } finally {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once('exit', r)));
    }
  }, 60_000);
});
