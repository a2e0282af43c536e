// The recovery sweep (at start and every minute): every ledger message with a recipient not yet final
// gets its job back if Redis has none; final spool files past spool.keepDays and old ledger rows go.
import { Job, type Queue } from 'bullmq';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';
import type { LedgerStore } from '../ledger/store.js';
import type { Spool } from '../intake/spool/spool.js';
import { mailJobId, type MailJobData } from '../queue/names.js';
import { enqueueMail } from '../intake/enqueue.js';
import { deleteInBatches } from '../db/batches.js';

/** Messages (each with its recipients, up to relay.maxRecipients) per retention transaction. */
const LEDGER_PRUNE_ROWS = 200;

export async function recoverMail(queue: Queue<MailJobData>, ledger: LedgerStore, log: Logger): Promise<number> {
  let added = 0;
  for (const { id, kind } of ledger.unfinished()) {
    const job = await Job.fromId(queue, mailJobId(id, kind));
    if (job) {
      const state = await job.getState();
      if (state !== 'completed' && state !== 'failed') continue; // waiting, delayed or active: in hand
      await job.remove(); // finished in Redis but not in the ledger (a crash between): run it again
    }
    if (await enqueueMail(queue, id, [kind], 5000)) added++;
  }
  if (added) log.info({ count: added }, 'recovery sweep enqueued unfinished mail jobs');
  return added;
}

/** `durable`: fsyncs the ledger's WAL, so the marks are on disk before any file goes. */
export async function cleanSpool(cfg: Config, ledger: LedgerStore, spool: Spool, log: Logger, durable: () => Promise<void>): Promise<void> {
  // Mark, make the marks durable, then unlink, as the delivery worker does: a crash in between leaves
  // a file marked removed, which start-up deletes (Spool.removeOrphans), never a row pointing at a file
  // that is gone (the marks commit without fsync; one WAL fsync covers the batch).
  const ids = ledger.removableSpool(cfg.spool.keepDays);
  for (const id of ids) ledger.markSpoolRemoved(id);
  if (ids.length) await durable();
  for (const id of ids) await spool.remove(id);
  // In batches with a turn between: this runs on the SMTP thread, whose accepts need the ledger too.
  const pruned = await deleteInBatches(
    (rows) => ledger.prune(cfg.retention.mailDays, rows),
    () => false,
    LEDGER_PRUNE_ROWS,
  );
  if (pruned) log.info({ count: pruned }, 'pruned old ledger rows and forward claims');
}
