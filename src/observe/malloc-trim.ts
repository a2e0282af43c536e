// After a big upload the tree stayed 37–58 MB above where it was before it for minutes (bench/README.md,
// footprint): V8 frees the parsed items and their Buffers, but glibc keeps the freed pages in its arenas
// wherever a live allocation sits above them, so only malloc_trim gives them back. It walks every arena
// holding each one's lock, so it runs only after a big upload (not on a timer), off the SMTP thread, once
// V8's collection of the upload's garbage has had time to finish (it runs incrementally), and again later
// for what was freed after that.
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
