// bench/upload-fsync: does a big upload's write to stock.db hold the ledger's WAL fdatasync (the last step
// before a 250) when both files are on one disk? One process as under `start`: this thread commits a ledger
// row and fdatasyncs ledger.db-wal in libuv's pool every 2 ms (as WalSync does once a sync was slow); a
// worker thread at the stock thread's priority stores a BENCH_ITEMS (200,000) upload and applies it (the
// real UploadStore and applyUpload, stock.db's default checkpoints: ~6 MB of WAL for the store, ~48 MB for
// the apply and as much again for its checkpoint, each burst ended by one fsync). Rounds alternate:
//   unpaced: as `start` ran before issue 24 (and still does for a body under 1 MiB);
//   paced:   this thread holds a FlushPacer on stock.db-wal and stock.db (src/db/flush-pacer.ts, as `start`
//            does while an upload body of 1 MiB or more is in the stock thread): each burst reaches the
//            disk in slices of a few MB.
// Per round a fresh copy of a prepared 200,000-product stock.db; BENCH_ROUNDS of each (default 4). Figures,
// pooled over the rounds: the syncs that started while the worker wrote (p50, p90, p99, max, how many over
// 20 ms), the same for the 2 s before it (quiet, same run), store + apply time, and each round's longest sync.
// Run: npm run bench:upload-fsync
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { copyFileSync, mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDb } from '../dist/db/open.js';
import { importCatalog } from '../dist/stock/catalog.js';
import { UploadStore } from '../dist/stock/store.js';
import { applyUpload } from '../dist/stock/apply/apply.js';
import { lowerThreadPriority } from '../dist/observe/thread-priority.js';
import { FlushPacer } from '../dist/db/flush-pacer.js';
import { tempDir } from './lib.mjs';

const ITEMS = Number(process.env.BENCH_ITEMS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const QUIET_MS = 2000;
const SYNC_EVERY_MS = 2;
const code = (i) => `P-${String(i).padStart(6, '0')}`;

if (!isMainThread) {
  lowerThreadPriority(); // as start's stock thread
  const db = openDb(workerData.dir, 'stock');
  const items = Array.from({ length: ITEMS }, (_, i) => ({ code: code(i), rawStock: String((i * 7) % 1000) }));
  parentPort.postMessage('start');
  const started = performance.now();
  const id = new UploadStore(db).insert('bench', { source: 'http', charset: 'utf-8' }, items);
  applyUpload(db, id);
  db.close();
  parentPort.postMessage(performance.now() - started);
} else {
  const t = tempDir('zb-bench-upload-fsync-');
  try {
    const prepared = join(t.dir, 'prepared');
    const db = openDb(prepared, 'stock');
    const catalog = Array.from({ length: ITEMS }, (_, i) => ({ code: code(i), name: `item ${i}`, stock: 10, unlimited: 0, usesCodes: 0 }));
    importCatalog(db, 'bench', catalog);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const waits = { quiet: [], unpaced: [], paced: [] };
    const roundMax = { quiet: [], unpaced: [], paced: [] };
    const writeMs = { unpaced: [], paced: [] };
    for (let r = 0; r < ROUNDS * 2; r++) {
      const way = r % 2 ? 'paced' : 'unpaced';
      const dir = join(t.dir, `round-${r}`);
      mkdirSync(dir);
      openDb(dir, 'stock').close();
      copyFileSync(join(prepared, 'stock.db'), join(dir, 'stock.db'));
      const ledger = openDb(dir, 'ledger', { synchronous: 'NORMAL' });
      const insert = ledger.prepare('INSERT INTO forward_claims VALUES (?, ?, ?, ?)');
      insert.run('s', `warm-${r}`, 'q', 0);
      const wal = await open(join(dir, 'ledger.db-wal'), 'r');
      const round = { quiet: [], [way]: [] };
      let phase = 'quiet';
      let stop = false;
      const syncing = (async () => {
        for (let n = 0; !stop; n++) {
          insert.run('s', `c${r}-${n}`, 'q', 0);
          const at = phase;
          const t0 = performance.now();
          await wal.datasync();
          round[at]?.push(performance.now() - t0);
          await sleep(SYNC_EVERY_MS);
        }
      })();
      await sleep(QUIET_MS);
      const worker = new Worker(new URL(import.meta.url), { workerData: { dir } });
      const pacer = new FlushPacer(['stock.db-wal', 'stock.db'].map((f) => join(dir, f)));
      let release;
      const ms = await new Promise((resolve, reject) => {
        worker.on('message', (m) => {
          if (m !== 'start') return resolve(m);
          phase = way;
          if (way === 'paced') release = pacer.hold();
        });
        worker.on('error', reject);
      });
      phase = 'done';
      release?.();
      await pacer.idle();
      stop = true;
      await syncing;
      for (const k of Object.keys(round)) {
        waits[k].push(...round[k]);
        roundMax[k].push(Math.max(...round[k]).toFixed(0));
      }
      writeMs[way].push(ms);
      await wal.close();
      ledger.close();
      await worker.terminate();
    }
    const pct = (v, p) => v[Math.min(v.length - 1, Math.floor(v.length * p))] ?? 0;
    const f = (v) => {
      v.sort((a, b) => a - b);
      const at = (p) => pct(v, p).toFixed(1);
      return `p50=${at(0.5)} p90=${at(0.9)} p99=${at(0.99)} max=${at(1)} n=${v.length} over20=${v.filter((x) => x > 20).length}`;
    };
    const med = (v) =>
      pct(
        v.sort((a, b) => a - b),
        0.5,
      ).toFixed(0);
    console.log(
      `upload-fsync items=${ITEMS} rounds=${ROUNDS} ledger_sync_ms quiet ${f(waits.quiet)} | unpaced ${f(waits.unpaced)}` +
        ` | paced ${f(waits.paced)} | store_apply_ms unpaced=${med(writeMs.unpaced)} paced=${med(writeMs.paced)}` +
        ` | longest per round: quiet ${roundMax.quiet.join(',')} unpaced ${roundMax.unpaced.join(',')} paced ${roundMax.paced.join(',')}`,
    );
  } finally {
    t.cleanup();
  }
}
