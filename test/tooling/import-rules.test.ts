// The room rules of .dependency-cruiser.cjs (docs/ARCHITECTURE.md) fail npm run lint on each forbidden import:
// a small tree of rooms that passes, then one bad import per rule, each named with both files.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempDir } from '../helpers/env.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'deps.mjs');

/** Each file of the tree and what it imports (paths under src/, without the .ts). */
const GOOD: Record<string, string[]> = {
  cli: ['cli/run'],
  'cli/run': ['roles/start', 'cli/options'],
  'cli/options': [],
  'roles/start': ['relay/listen', 'delivery/worker', 'stock/apply', 'console/server', 'roles/flags'],
  'roles/flags': [],
  'console/server': ['queries/mail', 'console/style'],
  'console/style': [],
  'queries/mail': ['intake/accept', 'queries/time'],
  'queries/time': [],
  'relay/listen': ['intake/accept', 'relay/policy'],
  'relay/policy': [],
  'delivery/thread-entry': ['delivery/worker'], // started by path: an entry, not an orphan
  'delivery/worker': ['intake/accept'],
  'intake/accept': ['intake/spool/spool', 'intake/classify', 'config/schema'],
  'intake/classify': [],
  'intake/spool/spool': ['security/modes'],
  'stock/apply': ['db/open'],
  'db/open': ['errors/codes'],
  'errors/codes': [],
  'errors/table': ['errors/codes'],
  'config/schema': ['errors/table'],
  'security/modes': [],
};

/** One forbidden import per rule: [rule, from, to]. */
const BAD: [string, string, string][] = [
  ['relay-delivery-apart', 'relay/listen', 'delivery/worker'],
  ['stock-apart-from-mail', 'stock/apply', 'intake/accept'],
  ['mail-apart-from-stock', 'delivery/worker', 'stock/apply'],
  ['intake-below-relay-and-delivery', 'intake/accept', 'relay/policy'],
  ['lower-imports-lower', 'config/schema', 'queries/time'],
  ['lower-imports-lower', 'intake/spool/spool', 'intake/classify'],
  ['work-rooms-below-top', 'stock/apply', 'queries/time'],
  ['queries-below-top', 'queries/mail', 'console/style'],
  ['console-below-roles', 'console/server', 'roles/flags'],
  ['roles-below-cli', 'roles/start', 'cli/options'],
  ['no-cycles', 'errors/codes', 'errors/table'],
];

function writeTree(dir: string, tree: Record<string, string[]>): void {
  for (const [file, imports] of Object.entries(tree)) {
    const path = join(dir, 'src', `${file}.ts`);
    mkdirSync(dirname(path), { recursive: true });
    const lines = imports.map((to) => `import '${'../'.repeat(file.split('/').length - 1) || './'}${to}.js';`);
    writeFileSync(path, [...lines, 'export const here = 1;', ''].join('\n'));
  }
}

function lint(dir: string, ...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { cwd: dir, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('import rules (scripts/deps.mjs with .dependency-cruiser.cjs)', () => {
  it('pass on rooms that keep them, and fail naming the rule and both files on each forbidden import', () => {
    const t = tempDir();
    try {
      copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(t.dir, '.dependency-cruiser.cjs'));
      writeFileSync(
        join(t.dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } }),
      );
      mkdirSync(join(t.dir, 'docs'));
      mkdirSync(join(t.dir, 'test'));
      writeFileSync(join(t.dir, 'test', 'a.test.ts'), "import '../src/errors/codes.js';\n");
      writeTree(t.dir, GOOD);
      const good = lint(t.dir, '--write');
      expect(good.out).toContain('no dependency violations found');
      expect(good.status).toBe(0);
      expect(lint(t.dir).status).toBe(0); // the graph just written is fresh

      const bad = structuredClone(GOOD);
      for (const [, from, to] of BAD) bad[from].push(to);
      bad['net/unused'] = [];
      writeTree(t.dir, bad);
      const r = lint(t.dir);
      expect(r.status).toBe(1);
      for (const [rule, from, to] of BAD) expect(r.out).toContain(`${rule}: src/${from}.ts → src/${to}.ts`);
      expect(r.out).toContain('no-orphans: src/net/unused.ts');
      expect(r.out).toContain('docs/module-graph.md is stale');
    } finally {
      t.cleanup();
    }
  });
});
