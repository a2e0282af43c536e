// Node's own flags for each kind of process, in one place: the launchers (bin shebang, scripts/start.mjs,
// the systemd units) pass these, test/systemd/units.test.ts holds them to it, and a command started
// without them starts again with them (roles/relaunch.ts).

/**
 * The processes that take mail (`start`, `relay`). --expose-gc: the delivery thread frees streamed mail's
 * Buffers at once (src/observe/large-message-gc.ts). --max-semi-space-size=4: young generations of 2 × 4
 * MiB per thread instead of up to 2 × 16 MiB: peak RSS of `start` with 2,000 × 5 KiB 172–198 MB instead
 * of 257–281 MB, for 0–4 % of throughput (bench/README.md). --optimize-for-size: V8 keeps each isolate's
 * heap closer to what it uses (young generations of 2 × 1 MiB, less slack in the old one; `start` has three
 * isolates): the tree's idle 162 MB instead of 187, soak peak 180 instead of 203 (issue 24's bound is 200).
 * Its price, measured: a 32 MiB upload form parses 15–25 % slower; the apply is as fast; single-client
 * accept within this machine's noise (bench/README.md: footprint, "V8 and glibc keep less").
 */
export const RELAY_NODE_FLAGS = ['--expose-gc', '--max-semi-space-size=4', '--optimize-for-size'];

/**
 * The environment `start` (and the receiver and worker units) start with; an operator's own value wins. Not
 * the relay unit's: it takes no uploads, and 200 × 1 MiB mail was 8–12 % slower with it in one run. MALLOC_ARENA_MAX=2: glibc
 * keeps 2 malloc arenas instead of up to 8 per core, one per thread that allocates, each holding memory it
 * freed: with it a 200,000-item upload's tree is back within 30 MB in 17–44 s instead of 52 MB above after
 * 60 s, and the soak's peak is 34 MB lower (bench/README.md: footprint). MALLOC_TRIM_THRESHOLD_=131072: fixes
 * glibc's thresholds at their 128 KiB defaults; otherwise each large block freed raises the mmap threshold
 * (up to 32 MiB), later large blocks come from the arenas and stay there when freed: the tree's soak end
 * 194 MB instead of 210–228. The launchers pass both; the bin's shebang sets them.
 */
export const RELAY_NODE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_TRIM_THRESHOLD_: '131072' };

/**
 * The stock worker process (`worker`: the worker unit). It is idle nearly all the time, and an apply is SQLite's
 * work, not V8's: a young generation of 2 × 1 MiB instead of up to 2 × 16 MiB keeps it ~20 MB smaller, with
 * the same apply time and a faster drop-folder file (bench/README.md: footprint). `start`'s stock thread
 * gets the same through its resourceLimits (roles/stock-thread.ts).
 */
export const STOCK_WORKER_NODE_FLAGS = ['--max-semi-space-size=1'];
