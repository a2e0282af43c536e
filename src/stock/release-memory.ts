// What a big upload leaves behind once it is stored or applied: SQLite keeps the pages it touched in the
// connection's page cache (up to 64 MiB, db/open.ts) and V8 keeps the heap the parsed items grew to until
// its memory reducer runs, long after; and glibc keeps what V8 frees in its arenas (observe/malloc-trim.ts).
// None of it is needed until the next big upload, so let all of it go at once.
// Small uploads (the cart's usual ones) keep their warm cache: a shrink costs a re-read of the pages.
import type { DB } from '../db/open.js';
import { trimMallocSoon } from '../observe/malloc-trim.js';

const BIG_UPLOAD_ITEMS = 10_000;

// `gc` is defined by node --expose-gc (the relay's flags, inherited by `start`'s threads); else V8 decides.
const gc = (globalThis as { gc?: (options: { type: 'major'; execution: 'async' }) => void }).gc;

/** After an upload of `items` items is done with: frees the connection's page cache, asks V8 for a collection and glibc to trim. */
export function releaseAfterUpload(db: DB, items: number): void {
  if (items < BIG_UPLOAD_ITEMS) return;
  db.pragma('shrink_memory');
  gc?.({ type: 'major', execution: 'async' });
  trimMallocSoon();
}
