// A small RFC 4180 CSV reader/writer (quotes, doubled quotes, CRLF or LF) with line numbers for
// error messages, and the byte decoding stock files need (UTF-8 with or without BOM, else Shift_JIS).
import { chooseCharset, decode, encode, type Charset } from './receive/charset.js';

export interface CsvRow {
  line: number;
  cells: string[];
}

/** A file that is not CSV as RFC 4180 writes it; the message starts with `line N:`. */
export class CsvError extends Error {}

export function parseCsv(text: string): CsvRow[] {
  const rows: CsvRow[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  const endRow = () => {
    cells.push(cell);
    if (!(cells.length === 1 && cells[0] === '')) rows.push({ line: rowLine, cells });
    cells = [];
    cell = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        cell += c;
      }
    } else if (c === '"' && cell === '') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else cell += c;
  }
  if (quoted) throw new CsvError(`line ${rowLine}: unterminated quoted field`);
  if (cell !== '' || cells.length > 0) endRow();
  return rows;
}

const csvCell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
export const csvLine = (cells: (string | number | null)[]) => cells.map((c) => csvCell(c === null ? '' : String(c))).join(',') + '\r\n';

/** Decodes a file's bytes: an explicit encoding, else UTF-8 (BOM stripped) unless invalid, then Shift_JIS. */
export function decodeFile(bytes: Buffer, encoding?: string): { text: string; charset: Charset } {
  const body = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  const charset = chooseCharset(encoding, 'auto', [body]);
  return { text: decode(body, charset), charset };
}

export { encode };
