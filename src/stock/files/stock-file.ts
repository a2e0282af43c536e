// A stock file: CSV `product_code,stock` (header `商品コード,在庫数` accepted, or none), UTF-8 or
// Shift_JIS, stored as an upload of the shop and applied through the same queue as HTTP uploads.
import { parseCsv, decodeFile } from '../csv.js';
import type { NewItem } from '../store.js';
import { sha256, type FileVia, type StockFileStore, type OpenFile } from './file-store.js';

const HEADERS = ['product_code,stock', '商品コード,在庫数'];

export class StockFileError extends Error {}

function parseStockFile(bytes: Buffer, encoding?: string): { items: NewItem[]; charset: string } {
  let decoded;
  try {
    decoded = decodeFile(bytes, encoding);
  } catch (err) {
    throw new StockFileError(`cannot decode: ${(err as Error).message}`);
  }
  const rows = parseCsv(decoded.text);
  if (rows.length && HEADERS.includes(rows[0].cells.map((c) => c.trim()).join(','))) rows.shift();
  const items = rows.map(({ line, cells }) => {
    if (cells.length !== 2) throw new StockFileError(`line ${line}: expected 2 columns (product_code,stock), got ${cells.length}`);
    if (cells[0] === '') throw new StockFileError(`line ${line}: product_code is empty`);
    return { code: cells[0], rawStock: cells[1] };
  });
  if (items.length === 0) throw new StockFileError('no items in file');
  return { items, charset: decoded.charset };
}

/** The file's upload: the one it was stored as while it is open (`again`), else a new one. */
export function takeStockFile(
  files: StockFileStore,
  shopId: string,
  via: FileVia,
  name: string,
  bytes: Buffer,
): OpenFile & { again: boolean } {
  return files.take({ shopId, via, name, sha256: sha256(bytes) }, () => parseStockFile(bytes));
}
