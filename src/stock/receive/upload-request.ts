// Turns the form fields of one request into an upload: the credentials (read as UTF-8 first, to find
// the shop) and the items `product[K][product_code]` / `product[K][stock]` in the order K first appears.
// Fields arrive as byte offsets (form.ts); names are matched on the bytes, and only an item's K becomes a
// string (once per run of fields with the same K), so a body of many fields costs no object per field.
import { FormError, type OnField } from './form.js';
import { clip } from '../../security/untrusted-text.js';

interface RawItem {
  code: Buffer;
  stock: Buffer;
}
export interface UploadRequest {
  sysId: string;
  sysPass: string;
  items: RawItem[] | null;
}

/** Product fields beyond this many per item allowed make the request too large (like PHP's max_input_vars). */
const FIELDS_PER_ITEM = 4;

const bytes = (s: string) => Buffer.from(s, 'latin1');
const SYS_ID = bytes('sys_id'),
  SYS_PASS = bytes('sys_pass'),
  PRODUCT = bytes('product');
const CODE_KEY = bytes('][product_code]'),
  STOCK_KEY = bytes('][stock]');

function equalAt(body: Buffer, start: number, end: number, word: Buffer): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (body[start + i] !== word[i]) return false;
  return true;
}

function startsWithAt(body: Buffer, start: number, end: number, word: Buffer): boolean {
  return end - start >= word.length && equalAt(body, start, start + word.length, word);
}

type Range = [number, number];
/** Where an item's values are in the body (-1: not sent); plain numbers, so a large upload makes little garbage. */
interface ItemAt {
  codeStart: number;
  codeEnd: number;
  stockStart: number;
  stockEnd: number;
}

function sameRange(body: Buffer, start: number, end: number, other: Range): boolean {
  if (end - start !== other[1] - other[0]) return false;
  for (let i = 0; i < end - start; i++) if (body[start + i] !== body[other[0] + i]) return false;
  return true;
}

/** `parse` runs a form parser over `body` (form.ts), calling back for each field. */
export function readUploadRequest(body: Buffer, parse: (onField: OnField) => void, maxItems: number): UploadRequest & { tooMany: boolean } {
  let sysId = '',
    sysPass = '';
  let sawProduct = false,
    tooMany = false;
  let productFields = 0;
  const byKey = new Map<string, ItemAt>();
  const lastKey: Range = [0, 0];
  let lastItem: ItemAt | undefined;

  parse((ns, ne, vs, ve) => {
    if (equalAt(body, ns, ne, SYS_ID)) sysId = body.toString('utf8', vs, ve);
    else if (equalAt(body, ns, ne, SYS_PASS)) sysPass = body.toString('utf8', vs, ve);
    else if (startsWithAt(body, ns, ne, PRODUCT) && (ne === ns + PRODUCT.length || body[ns + PRODUCT.length] === 0x5b)) {
      sawProduct = true;
      if (++productFields > FIELDS_PER_ITEM * maxItems) return !(tooMany = true);
      const keyStart = ns + PRODUCT.length + 1;
      let close = keyStart;
      while (close < ne && body[close] !== 0x5d) close++; // K is everything up to the first "]"
      const isCode = equalAt(body, close, ne, CODE_KEY);
      if (!isCode && !equalAt(body, close, ne, STOCK_KEY)) return; // unknown sub-keys (e.g. a name) are ignored, as PHP code would
      if (!lastItem || !sameRange(body, keyStart, close, lastKey)) {
        const key = body.toString('latin1', keyStart, close);
        lastItem = byKey.get(key);
        if (!lastItem) {
          if (byKey.size >= maxItems) return !(tooMany = true);
          byKey.set(key, (lastItem = { codeStart: -1, codeEnd: -1, stockStart: -1, stockEnd: -1 }));
        }
        lastKey[0] = keyStart;
        lastKey[1] = close;
      }
      if (isCode) {
        lastItem.codeStart = vs;
        lastItem.codeEnd = ve;
      } else {
        lastItem.stockStart = vs;
        lastItem.stockEnd = ve;
      }
    }
  });
  if (tooMany) return { sysId, sysPass, items: null, tooMany };
  if (!sawProduct) return { sysId, sysPass, items: null, tooMany: false };
  const items: RawItem[] = [];
  for (const [key, it] of byKey) {
    if (it.codeStart < 0) throw new FormError(`missing_product_code(product[${clip(key)}])`);
    items.push({
      code: body.subarray(it.codeStart, it.codeEnd),
      stock: it.stockStart < 0 ? Buffer.alloc(0) : body.subarray(it.stockStart, it.stockEnd),
    });
  }
  return { sysId, sysPass, items, tooMany: false };
}
