// Roles started together on a fresh dataDir (systemd starts the receiver and the workers at once) all
// open and migrate the same database files: each must come up, and each migration runs once.
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openDb } from '../../src/db/open.js';
import { tempDir } from '../helpers/env.js';

const OPEN = fileURLToPath(new URL('../../dist/db/open.js', import.meta.url));
const PROCESSES = 6;

function openInChild(dir: string, name: 'stock' | 'ledger'): Promise<{ code: number | null; err: string }> {
  const script = `import(${JSON.stringify(OPEN)}).then((m) => m.openDb(${JSON.stringify(dir)}, '${name}').close())`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, err })));
}

describe('opening one fresh database from several processes at once', () => {
  for (const name of ['stock', 'ledger'] as const) {
    it(`${name}.db: every process opens it, the schema ends at the last migration`, async () => {
      for (let round = 0; round < 3; round++) {
        const t = tempDir();
        try {
          const results = await Promise.all(Array.from({ length: PROCESSES }, () => openInChild(t.dir, name)));
          expect(results.filter((r) => r.code !== 0).map((r) => r.err.split('\n')[0])).toEqual([]);
          const db = openDb(t.dir, name);
          const version = db.pragma('user_version', { simple: true });
          db.close();
          expect(version).toBeGreaterThanOrEqual(2);
        } finally {
          t.cleanup();
        }
      }
    });
  }
});
