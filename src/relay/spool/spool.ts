// The durable spool: DATA streams into dataDir/spool/<id>.eml behind our Received: header and is
// fsynced; the ledger row committed after it is what makes it a message (then we may say 250). A file
// without a ledger row (a crash mid-DATA, a refused message) was never acknowledged: it is removed.
// Like Postfix, one fsync of the file per message; no rename, so no directory fsync is needed either.
import { createWriteStream, mkdirSync, rmSync, readdirSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const HEADER_SCAN_LIMIT_BYTES = 1024 * 1024; // Received: headers are counted in the first MiB only
export const LOOP_RECEIVED_COUNT = 100;

/** Counts Received: header fields while the message passes through unchanged. */
class HeaderScanner extends Transform {
  received = 0;
  private tail = '';
  private scanned = 0;
  private inHeader = true;
  _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.inHeader && this.scanned < HEADER_SCAN_LIMIT_BYTES) {
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
    done(null, chunk);
  }
}

export interface SpoolResult { path: string; size: number; received: number }

export class Spool {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'spool');
    mkdirSync(this.dir, { recursive: true });
  }

  pathOf(id: string): string {
    return join(this.dir, `${id}.eml`);
  }

  /** Writes header + stream to spool/<id>.eml and fsyncs it; async, so concurrent sessions overlap. */
  async write(id: string, receivedHeader: string, stream: Readable): Promise<SpoolResult> {
    const path = this.pathOf(id);
    const scanner = new HeaderScanner();
    const out = createWriteStream(path, { flags: 'wx' });
    out.write(receivedHeader);
    try {
      await pipeline(stream, scanner, out);
      const fh = await open(path, 'r+');
      try { await fh.sync(); } finally { await fh.close(); }
    } catch (err) {
      await rm(path, { force: true });
      throw err;
    }
    return { path, size: out.bytesWritten, received: scanner.received };
  }

  async discard(id: string): Promise<void> {
    await rm(this.pathOf(id), { force: true });
  }

  async remove(id: string): Promise<void> {
    await rm(this.pathOf(id), { force: true });
  }

  /** At start, before listening: spool files the ledger does not know were never acknowledged. */
  removeOrphans(known: (id: string) => boolean): number {
    let n = 0;
    for (const f of readdirSync(this.dir)) {
      const id = f.endsWith('.eml') ? f.slice(0, -4) : null;
      if (id && !known(id)) { rmSync(join(this.dir, f), { force: true }); n++; }
    }
    return n;
  }
}
