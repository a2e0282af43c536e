// Form bodies as bytes: application/x-www-form-urlencoded (WHATWG rules, strict on escapes) and
// multipart/form-data. Values stay bytes here; the charset is chosen for the whole request later.

export interface FormField { name: string; value: Buffer }

export class FormError extends Error {}

const PLUS = 0x2b, PERCENT = 0x25, AMP = 0x26, EQ = 0x3d;

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Percent-decodes bytes[start, end) ("+" is a space); a broken escape is an error, not a literal. */
function unescape(body: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = body[i];
    if (c === PLUS) out[n++] = 0x20;
    else if (c === PERCENT) {
      const hi = i + 2 < end ? hexVal(body[i + 1]) : -1;
      const lo = hi >= 0 ? hexVal(body[i + 2]) : -1;
      if (lo < 0) throw new FormError(`bad_escape at byte ${i}`);
      out[n++] = hi * 16 + lo;
      i += 2;
    } else out[n++] = c;
  }
  return out.subarray(0, n);
}

export function parseUrlencoded(body: Buffer): FormField[] {
  const fields: FormField[] = [];
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf(AMP, start);
    if (end < 0) end = body.length;
    if (end > start) {
      let eq = body.indexOf(EQ, start);
      if (eq < 0 || eq > end) eq = end;
      const name = unescape(body, start, eq).toString('latin1');
      const value = eq < end ? unescape(body, eq + 1, end) : Buffer.alloc(0);
      fields.push({ name, value });
    }
    start = end + 1;
  }
  return fields;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

/** multipart/form-data per RFC 7578; field names are taken as bytes (latin1) like the urlencoded ones. */
export function parseMultipart(body: Buffer, boundary: string): FormField[] {
  const delimiter = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new FormError('no_multipart_boundary');
  const fields: FormField[] = [];
  for (;;) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return fields; // closing "--boundary--"
    if (!body.subarray(pos, pos + 2).equals(CRLF)) throw new FormError('broken_multipart');
    const headerEnd = body.indexOf(HEADER_END, pos);
    if (headerEnd < 0) throw new FormError('broken_multipart');
    const headers = body.subarray(pos + 2, headerEnd).toString('latin1');
    const next = body.indexOf(Buffer.concat([CRLF, delimiter]), headerEnd + 4);
    if (next < 0) throw new FormError('unterminated_multipart');
    const disposition = /^content-disposition:\s*form-data\s*;(.*)$/im.exec(headers);
    const name = disposition && /\bname="((?:[^"\\]|\\.)*)"/i.exec(disposition[1]);
    if (!name) throw new FormError('multipart_part_without_name');
    fields.push({ name: name[1], value: body.subarray(headerEnd + 4, next) });
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
