// Form bodies as bytes: application/x-www-form-urlencoded (WHATWG rules, strict on escapes) and
// multipart/form-data. Values stay bytes here; the charset is chosen for the whole request later.
// Every body is hostile: one pass over the bytes (no rescan from each field), no object per field —
// each field is handed over as offsets into the body, and the reader keeps only what it uses.

/** One field: name bytes body[nameStart, nameEnd), value bytes body[valueStart, valueEnd). Return false to stop. */
export type OnField = (nameStart: number, nameEnd: number, valueStart: number, valueEnd: number) => boolean | void;

export class FormError extends Error {}

const PLUS = 0x2b,
  PERCENT = 0x25,
  AMP = 0x26,
  EQ = 0x3d;

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Decodes `body` IN PLACE, field by field, in one pass ("+" is a space, "%XX" a byte; a broken escape is
 * an error, not a literal); the offsets given to `onField` point into it. Decoded bytes are never more
 * than their escapes, so writing behind the read position is safe.
 */
export function parseUrlencoded(body: Buffer, onField: OnField): void {
  const length = body.length;
  let w = 0; // where the next decoded byte goes
  let fieldStart = 0; // decoded start of the current field's name
  let valueStart = -1; // decoded start of its value, once its first "=" is seen
  let rawStart = 0; // its first raw byte: "&&" is no field, "&=&" is one
  for (let i = 0; i <= length; i++) {
    const c = i < length ? body[i] : AMP;
    if (c === AMP) {
      if (i > rawStart && onField(fieldStart, valueStart < 0 ? w : valueStart, valueStart < 0 ? w : valueStart, w) === false) return;
      fieldStart = w;
      valueStart = -1;
      rawStart = i + 1;
    } else if (c === EQ && valueStart < 0) valueStart = w;
    else if (c === PLUS) body[w++] = 0x20;
    else if (c === PERCENT) {
      const hi = i + 2 < length ? hexVal(body[i + 1]) : -1;
      const lo = hi >= 0 ? hexVal(body[i + 2]) : -1;
      if (lo < 0) throw new FormError(`bad_escape at byte ${i}`);
      body[w++] = hi * 16 + lo;
      i += 2;
    } else body[w++] = c;
  }
}

const CRLF = Buffer.from('\r\n');
/** A part's header block is a few lines; longer ones are refused before any regex runs over them. */
const MAX_PART_HEADER_BYTES = 8 * 1024;
const DISPOSITION = /^content-disposition:[ \t]*form-data[ \t]*;(.*)$/im;
const NAME = /\bname="((?:[^"\\\r\n]|\\.)*)"/i;

/** Where the part's header block that starts at `pos` (its CRLF) ends: the CRLFCRLF, looked for within 8 KiB. */
function headerBlockEnd(body: Buffer, pos: number): number {
  const limit = Math.min(body.length - 3, pos + MAX_PART_HEADER_BYTES);
  for (let i = pos; i < limit; i++) {
    if (body[i] === 0x0d && body[i + 1] === 0x0a && body[i + 2] === 0x0d && body[i + 3] === 0x0a) return i;
  }
  throw new FormError(limit === pos + MAX_PART_HEADER_BYTES ? 'multipart_header_too_long' : 'broken_multipart');
}

/** multipart/form-data per RFC 7578; a field name is its raw bytes between the quotes. */
export function parseMultipart(body: Buffer, boundary: string, onField: OnField): void {
  const delimiter = Buffer.from(`--${boundary}`);
  const nextDelimiter = Buffer.concat([CRLF, delimiter]);
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new FormError('no_multipart_boundary');
  for (;;) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return; // closing "--boundary--"
    if (body[pos] !== CRLF[0] || body[pos + 1] !== CRLF[1]) throw new FormError('broken_multipart');
    const headerStart = pos + 2;
    const headerEnd = headerBlockEnd(body, pos);
    const next = body.indexOf(nextDelimiter, headerEnd + 4);
    if (next < 0) throw new FormError('unterminated_multipart');
    const headers = body.toString('latin1', headerStart, headerEnd); // latin1: one character per byte, so offsets carry over
    const disposition = DISPOSITION.exec(headers);
    const name = disposition && NAME.exec(disposition[1]);
    if (!name) throw new FormError('multipart_part_without_name');
    const nameStart =
      headerStart + disposition.index + disposition[0].length - disposition[1].length + name.index + name[0].indexOf('"') + 1;
    if (onField(nameStart, nameStart + name[1].length, headerEnd + 4, next) === false) return;
    pos = next + 2;
  }
}

/** The boundary and charset parameters of a Content-Type header. */
export function contentTypeParams(header: string | undefined): { type: string; boundary?: string; charset?: string } {
  const [type = '', ...params] = (header ?? '').split(';');
  const out: { type: string; boundary?: string; charset?: string } = { type: type.trim().toLowerCase() };
  for (const p of params) {
    const m = /^\s*([A-Za-z-]+)\s*=\s*"?([^";]*)"?\s*$/.exec(p);
    if (!m) continue;
    const key = m[1].toLowerCase();
    if (key === 'boundary') out.boundary = m[2];
    if (key === 'charset') out.charset = m[2].toLowerCase();
  }
  return out;
}
