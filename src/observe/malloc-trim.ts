// After a big upload the tree stayed 37–58 MB above where it was before it for minutes (bench/README.md,
// footprint): V8 frees the parsed items and their Buffers, but glibc keeps the freed pages in its arenas
// wherever a live allocation sits above them, so only malloc_trim gives them back. It walks every arena
// holding that arena's lock, and with MALLOC_ARENA_MAX=2 the SMTP thread shares them: a malloc there waits
// while a trim runs (14.8 ms for the bench's 200,000-item upload, measured on a loaded 2-core machine). So
// it runs only after a big upload (≥ 10,000 items, stock/release-memory.ts), never on a timer of its own,
// once V8's collection of the upload's garbage has had time to finish, and once more later.
import { libc } from './libc.js';

/**
 * When after the last big upload the arenas are trimmed. V8 collects the upload's garbage incrementally; after
 * 2 s the bench's 200,000-item upload was freed enough that the first trim brought the tree back to where it
 * was (bench/README.md, footprint); the second takes what V8's later collections free.
 */
const TRIM_AFTER_MS = [2_000, 15_000];

let timers: NodeJS.Timeout[] = [];

/** Trims glibc's arenas a little after now (and once more later); a later call starts the wait again. */
export function trimMallocSoon(): void {
  const trim = libc()?.mallocTrim;
  if (!trim) return;
  for (const t of timers) clearTimeout(t);
  timers = TRIM_AFTER_MS.map((ms) => setTimeout(trim, ms).unref());
}
