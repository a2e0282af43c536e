// `mail check` and the console's check page: what the relay would do with a classified mail. Apart from
// queries/mail.ts, so that listing the ledger does not load the classifier (mailparser).
import type { DB } from '../db/open.js';
import { forwardClaim, type Classification } from '../intake/classify/classify.js';

/** `mail check`: what the relay would do with a classified mail (known item codes, forward-once verdict). */
export function checkVerdict(c: Classification, ledgerDb: DB, stockDb: DB) {
  // One lookup finds a variant (its 在庫管理コード) or a product; has_variants says the code cannot tell which one sold.
  const product = stockDb.prepare('SELECT has_variants FROM products WHERE shop_id = ? AND code = ?').pluck();
  const items = c.items.map((i) => {
    const hasVariants = c.shop ? (product.get(c.shop.id, i.code) as number | undefined) : undefined;
    return { ...i, known: hasVariants !== undefined, variantProduct: !!hasVariants };
  });
  let wouldForward = false;
  let reason: string;
  if (!c.shop) reason = c.shopWhy;
  else if (!c.isOrder) reason = `subject does not match orderMail.subject ${JSON.stringify(c.shop.orderMail.subject)}`;
  else if (!c.shop.forwardTo) reason = 'shop has no forwardTo';
  else {
    const claim = forwardClaim(c.shop, c, 'check');
    const holder =
      claim && ledgerDb.prepare('SELECT message_id FROM forward_claims WHERE shop_id = ? AND claim = ?').pluck().get(c.shop.id, claim);
    wouldForward = !holder;
    reason = holder
      ? `forward-once: ${claim} already forwarded with ${holder}`
      : `would forward to ${c.shop.forwardTo}${claim ? ` (claim ${claim})` : ' (forwardOnce: off)'}`;
  }
  if (c.flags.length) reason += `; flags: ${c.flags.join(', ')}`;
  const variantCodes = items.filter((i) => i.variantProduct).map((i) => i.code);
  if (variantCodes.length) reason += `; ${variantAdvice(variantCodes)}`;
  return {
    shop: c.shop?.id ?? null,
    shopBy: c.shopBy ?? null,
    isOrder: c.isOrder,
    orderNumber: c.orderNumber ?? null,
    items,
    wouldForward,
    reason,
  };
}

/** What to do when an order mail names a product whose stock is kept per 在庫管理コード. */
const variantAdvice = (codes: string[]) =>
  `${codes.join(', ')} names a product with variants (在庫管理コード): edit the cart's 注文受付メール template ` +
  `(基本設定＞メールテンプレート＞注文受付メール) to print the 在庫管理コード, or zaiko Robot cannot tell which one was sold`;
