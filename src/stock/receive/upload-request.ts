// Turns the form fields of one request into an upload: the credentials (read as UTF-8 first, to find
// the shop) and the items `product[K][product_code]` / `product[K][stock]` in the order K first appears.
import type { FormField } from './form.js';
import { FormError } from './form.js';

export interface RawItem { code: Buffer; stock: Buffer }
export interface UploadRequest { sysId: string; sysPass: string; items: RawItem[] | null }

const ITEM_KEY = /^product\[([^\]]*)\]\[(product_code|stock)\]$/;

export function readUploadRequest(fields: FormField[], maxItems: number): UploadRequest & { tooMany: boolean } {
  let sysId = '', sysPass = '';
  let sawProduct = false;
  const byKey = new Map<string, { code?: Buffer; stock?: Buffer }>();
  for (const f of fields) {
    if (f.name === 'sys_id') sysId = f.value.toString('utf8');
    else if (f.name === 'sys_pass') sysPass = f.value.toString('utf8');
    else if (f.name === 'product' || f.name.startsWith('product[')) {
      sawProduct = true;
      const m = ITEM_KEY.exec(f.name);
      if (!m) continue; // unknown sub-keys (e.g. a name) are ignored, as PHP code would
      let item = byKey.get(m[1]);
      if (!item) {
        if (byKey.size >= maxItems) return { sysId, sysPass, items: null, tooMany: true };
        byKey.set(m[1], (item = {}));
      }
      if (m[2] === 'product_code') item.code = f.value;
      else item.stock = f.value;
    }
  }
  if (!sawProduct) return { sysId, sysPass, items: null, tooMany: false };
  const items: RawItem[] = [];
  for (const [key, it] of byKey) {
    if (!it.code) throw new FormError(`missing_product_code(product[${key}])`);
    items.push({ code: it.code, stock: it.stock ?? Buffer.alloc(0) });
  }
  return { sysId, sysPass, items, tooMany: false };
}
