// Bounded memory with large mail that is streamed. Every chunk of a streamed message is a Buffer whose
// memory lives outside V8's heap; V8 collects such memory only when it has grown by ~64 MB since its
// last collection, per thread. The delivery thread streams only messages above its buffer limit
// (smaller ones go out from a Buffer the connection reuses: no garbage), and asks for a collection
// after every LARGE_BYTES_PER_GC of those. The accept side does not ask: a forced major collection per
// 4 MiB of received mail doubled the CPU a 1 MiB message costs (20 against 11 ms, bench/README.md)
// for ~50 MB less peak RSS; its garbage is left to V8's own ~64 MB bound.
// `gc` is the global `node --expose-gc` defines: the relay unit, `npm start` and the bin's shebang pass the
// flag (worker threads inherit it). Without it, streamed mail is left to V8 and the relay warns at start.

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

/** Called once per message the delivery thread has streamed out; one counter per thread. */
// An incremental collection: the thread goes on meanwhile.
export const countLargeMessage = largeMessageCounter(() => gc?.({ type: 'major', execution: 'async' }));
