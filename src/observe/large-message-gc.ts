// Bounded memory with large mail. Every chunk of a message passes through Buffers whose memory lives
// outside V8's heap; V8 collects them only when that outside memory has grown by ~64 MB since its
// last collection, per thread. With 1 MiB messages both threads of the relay sat on up to ~64 MB of
// such garbage each (peak RSS 205–255 MB for 200 × 1 MiB). Asking for a collection after every
// LARGE_BYTES_PER_GC of large-message bytes keeps it at 160–176 MB (8 MiB: 180–224), at a cost only
// large mail pays (1 MiB accepts 60 → 50 msg/s): messages under LARGE_MESSAGE_BYTES never count.
// `gc` is the global `node --expose-gc` defines: the relay unit, `npm start` and the bin's shebang pass the
// flag (worker threads inherit it). Without it, large mail is left to V8 and the relay warns at start.

const LARGE_MESSAGE_BYTES = 64 * 1024;
const LARGE_BYTES_PER_GC = 4 * 1024 * 1024;

type Collect = () => void;

/** Counts the bytes of large messages and calls `collect` once per LARGE_BYTES_PER_GC of them. */
export function largeMessageCounter(collect: Collect): (bytes: number) => void {
  let sinceLastGc = 0;
  return (bytes) => {
    if (bytes < LARGE_MESSAGE_BYTES) return;
    sinceLastGc += bytes;
    if (sinceLastGc < LARGE_BYTES_PER_GC) return;
    sinceLastGc = 0;
    collect();
  };
}

const gc = (globalThis as { gc?: (options: { type: 'major'; execution: 'async' }) => void }).gc;

/** False when node runs without --expose-gc: countLargeMessage then does nothing. */
export const gcExposed = typeof gc === 'function';

/** Called once per message a thread has streamed through (received or sent); one counter per thread. */
// An incremental collection: the thread goes on meanwhile.
export const countLargeMessage = largeMessageCounter(() => gc?.({ type: 'major', execution: 'async' }));
