// `mail check` and the console's check page: what the relay would do with a classified mail. Apart from
// queries/mail.ts, so that listing the ledger does not load the classifier (mailparser).
import type { DB } from '../db/open.js';
import { forwardClaim, type Classification } from '../intake/classify/classify.js';

/** `mail check`: what the relay would do with a classified mail (known item codes, forward-once verdict). */
export function checkVerdict(c: Classification, ledgerDb: DB, stockDb: DB) {
  const known = stockDb.prepare('SELECT 1 FROM products WHERE shop_id = ? AND code = ?');
  const items = c.items.map((i) => ({ ...i, known: !!(c.shop && known.get(c.shop.id, i.code)) }));
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
export type CheckVerdict = ReturnType<typeof checkVerdict>;
