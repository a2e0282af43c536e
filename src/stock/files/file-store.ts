// Which upload a stock file was stored as (stock.db table stock_files). A file is "open" from the
// moment its upload is stored until it is moved to done/ or failed/ (drop folder) or its result is
// reported (`stock apply-file`): reading an open file again — after a crash, or on the next scan —
// finds its upload instead of storing a newer one. Keyed by shop, way in, name and content hash.
import { createHash } from 'node:crypto';
import type { NewItem, UploadStore } from '../store.js';

export type FileVia = 'drop' | 'cli';
export interface FileKey {
  shopId: string;
  via: FileVia;
  name: string;
  sha256: string;
}
export interface OpenFile {
  id: number;
  uploadId: number;
  takenAt: number;
}

export const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

export class StockFileStore {
  constructor(private readonly uploads: UploadStore) {}

  private get db() {
    return this.uploads.db;
  }

  find(key: FileKey): OpenFile | undefined {
    return this.db
      .prepare(
        `SELECT id, upload_id AS uploadId, taken_at AS takenAt FROM stock_files
      WHERE shop_id = ? AND via = ? AND name = ? AND sha256 = ? AND finished_at IS NULL`,
      )
      .get(key.shopId, key.via, key.name, key.sha256) as OpenFile | undefined;
  }

  /**
   * The file's open upload, or a new one stored with its row in one transaction. `parse` runs only
   * for a new file. Another open row of the same name (the file was replaced) is finished: it is gone.
   */
  take(key: FileKey, parse: () => { items: NewItem[]; charset: string }, at?: number): OpenFile & { again: boolean } {
    const found = this.find(key);
    if (found) return { ...found, again: true };
    const { items, charset } = parse();
    return this.db
      .transaction(() => {
        const raced = this.find(key); // another process took it while we parsed
        if (raced) return { ...raced, again: true };
        const now = at ?? Date.now(); // under the write lock, as UploadStore.insert says why
        this.db
          .prepare('UPDATE stock_files SET finished_at = ? WHERE shop_id = ? AND via = ? AND name = ? AND finished_at IS NULL')
          .run(now, key.shopId, key.via, key.name);
        const uploadId = this.uploads.insert(key.shopId, { source: 'file', origin: key.name, charset }, items, now);
        const id = Number(
          this.db
            .prepare('INSERT INTO stock_files (shop_id, via, name, sha256, upload_id, taken_at) VALUES (?, ?, ?, ?, ?, ?)')
            .run(key.shopId, key.via, key.name, key.sha256, uploadId, now).lastInsertRowid,
        );
        return { id, uploadId, takenAt: now, again: false };
      })
      .immediate();
  }

  finish(id: number, now = Date.now()): void {
    this.db.prepare('UPDATE stock_files SET finished_at = ? WHERE id = ? AND finished_at IS NULL').run(now, id);
  }

  open(via: FileVia): (OpenFile & { shopId: string; name: string })[] {
    return this.db
      .prepare(
        `SELECT id, upload_id AS uploadId, taken_at AS takenAt, shop_id AS shopId, name FROM stock_files
      WHERE via = ? AND finished_at IS NULL ORDER BY id`,
      )
      .all(via) as (OpenFile & { shopId: string; name: string })[];
  }
}
