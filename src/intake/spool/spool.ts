// The durable spool. A message up to INLINE_LIMIT_BYTES is kept in memory and its bytes go into the
// ledger's accept commit (one WAL fsync makes bytes and row durable together). A larger one streams
// into dataDir/spool/<id>.eml behind our Received: header and is fdatasynced (while the caller
// classifies the head kept in memory); the ledger row committed after it is what makes it a message
// (then we may say 250). A file without a ledger row (a crash mid-DATA, a refused message) was never
// acknowledged: it is removed. Readers see either form through stored-message.ts, nothing else.
// A file's name is a new directory entry, which POSIX makes durable only by an fsync of the directory:
// syncDir() runs once per group commit that created files, after they were created and before any of
// them is answered 250 (docs/RELIABILITY.md).
import { rmSync, readdirSync, openSync, writevSync, writeSync, closeSync, fdatasync } from 'node:fs';
import { open, rm, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { makePrivateDir, PRIVATE_FILE_MODE } from '../../security/file-modes.js';

const HEADER_SCAN_LIMIT_BYTES = 1024 * 1024; // Received: headers are counted in the first MiB only
export const LOOP_RECEIVED_COUNT = 100;
/**
 * The start of each message stays in memory for classification, which looks at no more than this. Order mails
 * are small (a few KiB of text): only this much of a message is parsed, so a big one cannot cost big memory.
 * 128 KiB, down from 256: 20 sessions of 1 MiB mail peaked ~30 MB lower. Defined here, by the storage that keeps
 * the head, so that the spool need not import classify/ (intake's pipeline uses its storage, not the reverse).
 */
export const CLASSIFY_LIMIT_BYTES = 128 * 1024;
/** DATA chunks are gathered and written with one writev per this many bytes. */
const WRITE_BATCH_BYTES = 64 * 1024;
/**
 * Messages up to this size (our Received: header included) are kept in ledger.db, written in the accept
 * commit: one fsync (the WAL's) before the 250 instead of the file's fdatasync, then the WAL's and the
 * directory's. Measured in bench/README.md ("One durable write per small mail"). The bytes wait in memory
 * until the end of DATA, so this bounds a session's memory too (times relay.maxClients).
 */
export const INLINE_LIMIT_BYTES = 64 * 1024;
const NOWHERE = { spoolPath: '', body: null };

/** Counts Received: header fields in the header section, chunk by chunk. */
class ReceivedCounter {
  received = 0;
  private tail = '';
  private scanned = 0;
  private inHeader = true;
  scan(chunk: Buffer): void {
    if (!this.inHeader || this.scanned >= HEADER_SCAN_LIMIT_BYTES) return;
    const text = this.tail + chunk.toString('latin1');
    const end = text.search(/\r?\n\r?\n/);
    const header = end >= 0 ? text.slice(0, end + 1) : text;
    const lastNl = header.lastIndexOf('\n');
    const complete = end >= 0 ? header : header.slice(0, lastNl + 1);
    const matches = ('\n' + complete).match(/\nReceived:/gi);
    this.received += matches ? matches.length : 0;
    this.tail = end >= 0 ? '' : header.slice(lastNl + 1);
    if (end >= 0) this.inHeader = false;
    this.scanned += chunk.length;
  }
}

/** Writes every byte of `chunks` (a short write, rare on files, is finished with plain writes). */
function writeAll(fd: number, chunks: Buffer[]): number {
  let total = 0;
  for (const c of chunks) total += c.length;
  const written = writevSync(fd, chunks);
  if (written < total) {
    const rest = Buffer.concat(chunks).subarray(written);
    for (let off = 0; off < rest.length;) off += writeSync(fd, rest, off);
  }
  return total;
}

/**
 * `durable` settles once the file is fdatasynced and closed (at once for a message kept inline); a
 * rejection means it was removed again. `location` goes into the ledger row as it is: a file's path, or
 * (spoolPath '') the bytes themselves, which the accept commit stores. `tooBig`: the message passed the
 * size limit; its file is already gone and nothing else is set.
 */
export interface SpoolResult {
  location: { spoolPath: string; body: Buffer | null };
  size: number;
  received: number;
  head: Buffer;
  durable: Promise<void>;
  tooBig: boolean;
}

export interface SpoolOptions {
  /** Messages up to this many bytes (our header included) are kept in the ledger's commit, not in a file. */
  inlineLimitBytes?: number;
}

export class Spool {
  readonly dir: string;
  private readonly inlineLimit: number;
  private dirHandle?: Promise<FileHandle>;
  /** Files were created since the last directory fsync began (only those need one). */
  private dirDirty = false;

  constructor(dataDir: string, options: SpoolOptions = {}) {
    this.dir = join(dataDir, 'spool');
    this.inlineLimit = options.inlineLimitBytes ?? INLINE_LIMIT_BYTES;
    makePrivateDir(this.dir);
  }

  pathOf(id: string): string {
    return join(this.dir, `${id}.eml`);
  }

  /**
   * Reads header + stream and returns once every byte is kept, with the first CLASSIFY_LIMIT_BYTES, so nobody
   * reads the message back to classify it. Up to the inline limit the bytes stay in memory and go into
   * the ledger's accept commit (its WAL fsync is then the only one). Past it they go to spool/<id>.eml
   * through one file handle; its fdatasync runs on: the caller classifies meanwhile and awaits
   * `durable` before it commits the ledger row.
   * Past `maxBytes` of message (our header not counted) nothing more is written or kept: the file is
   * removed at once and the rest of the stream drained unread, so the client gets its 552 after DATA.
   */
  async write(id: string, receivedHeader: string, stream: Readable, maxBytes = Infinity): Promise<SpoolResult> {
    const path = this.pathOf(id);
    let fd = -1; // no file until the message passes the inline limit
    let fdOpen = false; // an fd closed twice could close a file opened meanwhile under the same number
    // Opened and written synchronously: creating and filling a file in the page cache takes microseconds,
    // less than the trips through libuv's pool that asynchronous calls make; only the fdatasync waits on the disk.
    const openFile = () => {
      fd = openSync(path, 'wx', PRIVATE_FILE_MODE);
      fdOpen = true;
      this.dirDirty = true;
    };
    const closeOnce = () => {
      if (!fdOpen) return;
      fdOpen = false;
      closeSync(fd);
    };
    const closeQuietly = () => {
      try {
        closeOnce();
      } catch {
        /* nothing more to do: the file is removed next */
      }
    };
    const failed = async (err: unknown): Promise<never> => {
      closeQuietly();
      if (fd >= 0) await rm(path, { force: true });
      throw err;
    };
    const counter = new ReceivedCounter();
    const first = Buffer.from(receivedHeader);
    const head: Buffer[] = [first];
    let headBytes = first.length;
    let batch: Buffer[] = [first];
    let batchBytes = first.length;
    let size = 0;
    let incoming = 0;
    let tooBig = false;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (tooBig) continue; // drained, not kept
        incoming += chunk.length;
        if (incoming > maxBytes) {
          tooBig = true;
          batch = [];
          head.length = 0;
          closeQuietly();
          if (fd >= 0) await rm(path, { force: true });
          continue;
        }
        counter.scan(chunk);
        if (headBytes < CLASSIFY_LIMIT_BYTES) {
          head.push(chunk);
          headBytes += chunk.length;
        }
        batch.push(chunk);
        batchBytes += chunk.length;
        if (fd < 0 && batchBytes > this.inlineLimit) openFile();
        if (fd >= 0 && batchBytes >= WRITE_BATCH_BYTES) {
          size += writeAll(fd, batch);
          batch = [];
          batchBytes = 0;
        }
      }
      if (tooBig) return { location: NOWHERE, size, received: counter.received, head: Buffer.alloc(0), durable: Promise.resolve(), tooBig };
      if (fd < 0) {
        // Kept inline: the ledger's commit is this message's one durable write.
        const body = Buffer.concat(batch, batchBytes);
        return {
          location: { spoolPath: '', body },
          size: body.length,
          received: counter.received,
          head: body.subarray(0, Math.min(body.length, CLASSIFY_LIMIT_BYTES)),
          durable: Promise.resolve(),
          tooBig,
        };
      }
      if (batch.length) size += writeAll(fd, batch);
    } catch (err) {
      if (tooBig) {
        if (fd >= 0) await rm(path, { force: true });
        throw err;
      }
      return failed(err);
    }
    const durable = new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve()))).then(
      () => closeOnce(),
      failed,
    );
    durable.catch(() => {}); // the caller may stop before awaiting it (a refused message)
    return {
      location: { spoolPath: path, body: null },
      size,
      received: counter.received,
      head: Buffer.concat(head, Math.min(headBytes, CLASSIFY_LIMIT_BYTES)),
      durable,
      tooBig,
    };
  }

  /**
   * Makes the directory entries of the files created so far durable (one fsync for a whole group; none
   * when the group created no file).
   * The directory stays open: an open and a close per group cost two more trips through libuv's pool.
   */
  async syncDir(): Promise<void> {
    if (!this.dirDirty) return; // a group of inline messages created no file: nothing to make durable here
    this.dirDirty = false; // files created from now on wait for the next group's fsync
    this.dirHandle ??= open(this.dir, 'r');
    const dir = this.dirHandle;
    try {
      await (await dir).sync();
    } catch (err) {
      if (this.dirHandle === dir) this.dirHandle = undefined; // opened afresh next time
      this.dirDirty = true;
      throw err;
    }
  }

  async close(): Promise<void> {
    const dir = this.dirHandle;
    this.dirHandle = undefined;
    if (dir) await (await dir).close().catch(() => {});
  }

  /** Removes a spool file; one already gone is fine (a repeated job, a crash after the unlink). */
  async remove(id: string): Promise<void> {
    await unlink(this.pathOf(id)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /**
   * At start, before listening: files the ledger does not know were never acknowledged, and files it
   * marks removed were final (a crash came between the mark and the unlink).
   */
  removeOrphans(kept: (id: string) => boolean): number {
    let n = 0;
    for (const f of readdirSync(this.dir)) {
      const id = f.endsWith('.eml') ? f.slice(0, -4) : null;
      if (id && !kept(id)) {
        rmSync(join(this.dir, f), { force: true });
        n++;
      }
    }
    return n;
  }
}
