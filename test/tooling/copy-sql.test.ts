// `npm run build` leaves dist/ with exactly the migrations of src/: a migration renamed or removed in
// src/ (a renumbering at integration) must not stay in dist/ and run on the next start.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/env.js';

const SCRIPT = join(import.meta.dirname, '..', '..', 'scripts', 'copy-sql.mjs');

describe('scripts/copy-sql.mjs', () => {
  it('removes a stale migration from dist/ and copies the current ones', () => {
    const t = tempDir();
    try {
      const put = (path: string) => {
        mkdirSync(join(t.dir, path, '..'), { recursive: true });
        writeFileSync(join(t.dir, path), 'SELECT 1;\n');
      };
      put('src/db/migrations/ledger/001_init.sql');
      put('src/db/migrations/ledger/004_renumbered.sql');
      put('dist/db/migrations/ledger/001_init.sql');
      put('dist/db/migrations/ledger/003_renumbered.sql'); // the name it had before a rebase
      execFileSync(process.execPath, [SCRIPT], { cwd: t.dir });
      expect(readdirSync(join(t.dir, 'dist/db/migrations/ledger')).sort()).toEqual(['001_init.sql', '004_renumbered.sql']);
    } finally {
      t.cleanup();
    }
  });
});
