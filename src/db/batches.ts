// Retention deletes in small transactions with a turn of the event loop between them, so no delete holds
// a database's write lock (or its thread) for long, however much has piled up since the last run.
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Rows one retention transaction removes at most. */
export const PRUNE_BATCH_ROWS = 1000;

/**
 * Runs `batch(rows)` (one transaction that removes at most `rows` rows and says how many it removed)
 * until one removes fewer, or `stop()` (a close began) says to end early; resolves to the total.
 */
export async function deleteInBatches(batch: (rows: number) => number, stop: () => boolean, rows = PRUNE_BATCH_ROWS): Promise<number> {
  let total = 0;
  while (!stop()) {
    const n = batch(rows);
    total += n;
    if (n < rows) break;
    await nextTurn(); // the lock is free between batches: jobs and the receiver's stores run
  }
  return total;
}
