// bench/apply-file-redis-down: `stock apply-file` with Redis unreachable (a port nothing listens on, and
// an address with no route) against `uploads list` (SQLite only: the node start-up and config load
// every command pays), as a user runs them: `node dist/cli.js`, wall time, interleaved, median of ROUNDS.
// The file is stored as an upload either way; the command says so and exits 69. Prints one line.
// Run: npm run build && node bench/apply-file-redis-down.mjs
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { median, tempDir } from './lib.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js');
const t = tempDir('zb-bench-apply-file-');
const config = (url) => {
  const file = join(t.dir, `${url.includes('192.0.2') ? 'unroutable' : 'refused'}.yaml`);
  writeFileSync(file, `dataDir: ./data\nredis: { url: "${url}" }\nshops:\n  - id: s1\n    zaikoRobot: { userId: u, password: p }\n`);
  return file;
};
const refused = config('redis://127.0.0.1:1');
const unroutable = config('redis://192.0.2.1:6379'); // TEST-NET-1: no route here, the connect fails at once
writeFileSync(join(t.dir, 'f.csv'), 'product_code,stock\nA,1\n');
const timed = (args) => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: t.dir, encoding: 'utf8' });
  return { ms: performance.now() - t0, code: r.status, stderr: r.stderr };
};
const times = { list: [], refused: [], unroutable: [] };
try {
  for (let r = 0; r < ROUNDS; r++) {
    times.list.push(timed(['uploads', 'list', '--config', refused]).ms);
    for (const [name, file] of [
      ['refused', refused],
      ['unroutable', unroutable],
    ]) {
      const run = timed(['stock', 'apply-file', '--shop', 's1', 'f.csv', '--config', file]);
      if (run.code !== 69 || !run.stderr.includes('stored as upload 1')) throw new Error(`${name}: exit ${run.code}: ${run.stderr}`);
      times[name].push(run.ms);
    }
  }
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  console.log(
    `apply-file-redis-down: rounds=${ROUNDS} baseline_uploads_list_ms=${m.list.toFixed(0)} refused_ms=${m.refused.toFixed(0)} ` +
      `unroutable_ms=${m.unroutable.toFixed(0)} refused_over_baseline_ms=${(m.refused - m.list).toFixed(0)} ` +
      `unroutable_over_baseline_ms=${(m.unroutable - m.list).toFixed(0)}`,
  );
} finally {
  t.cleanup();
}
