// What a spooled message is: whose shop (envelope sender, From, or AUTH user), whether it is an order
// mail (subject rule on the decoded subject), its order number and items (from the decoded text part).
import { open } from 'node:fs/promises';
import { MailParser, type AddressObject, type AttachmentStream, type MessageText } from 'mailparser';
import { parseSinglePart, type Parsed } from './single-part.js';
import { htmlToText } from './html-text.js';
import type { ShopConfig } from '../../config/schema.js';

export interface OrderItem { code: string; quantity: number }
export interface Classification {
  shop: ShopConfig | undefined;
  headerFrom: string | undefined;
  subject: string;
  messageId: string | undefined;
  isOrder: boolean;
  orderNumber: string | undefined;
  items: OrderItem[];
  flags: string[];
}

function senderMatches(senders: readonly string[], address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase();
  return senders.some((s) => (s.startsWith('@') ? a.endsWith(s.toLowerCase()) : a === s.toLowerCase()));
}

export function findShop(shops: readonly ShopConfig[], envelopeFrom: string, headerFrom: string | undefined,
  authUser: string | undefined): ShopConfig | undefined {
  return shops.find((s) => (authUser && s.authUsers.includes(authUser)))
    ?? shops.find((s) => senderMatches(s.senders, envelopeFrom))
    ?? shops.find((s) => senderMatches(s.senders, headerFrom));
}

/** Items: every match of the code rule, each paired with the first quantity match before the next code. */
export function extractItems(text: string, codeRule: string, quantityRule: string): OrderItem[] {
  const codeRe = new RegExp(codeRule, 'gu');
  const codes = [...text.matchAll(codeRe)];
  return codes.map((m, i) => {
    const from = m.index! + m[0].length;
    const to = i + 1 < codes.length ? codes[i + 1].index! : text.length;
    const q = new RegExp(quantityRule, 'u').exec(text.slice(from, to));
    return { code: m[1] ?? m[0], quantity: q ? Number(q[1]) : 1 };
  });
}

/**
 * Order mails are small (a few KiB of text): only this much of a message is parsed, so a big one
 * cannot cost big memory. 128 KiB, down from 256: 20 sessions of 1 MiB mail peaked ~30 MB lower.
 */
export const CLASSIFY_LIMIT_BYTES = 128 * 1024;

/** Headers and text parts only: attachments are drained unread, so a big mail costs little memory. */
export function parseWithMailparser(head: Buffer): Promise<Parsed> {
  return new Promise((resolve, reject) => {
    const parser = new MailParser({ skipImageLinks: true, skipHtmlToText: true, skipTextLinks: true, skipTextToHtml: true } as any);
    const out: Parsed = {};
    parser.on('headers', (h) => {
      out.from = h.get('from') as AddressObject | undefined;
      out.subject = h.get('subject') as string | undefined;
      out.messageId = h.get('message-id') as string | undefined;
    });
    parser.on('data', (data: AttachmentStream | MessageText) => {
      if (data.type === 'attachment') {
        data.content.on('end', () => data.release?.());
        data.content.resume(); // drained unread; the parser waits for release() before going on
      } else {
        out.text = data.text;
        out.html = data.html;
      }
    });
    parser.on('end', () => resolve(out));
    parser.on('error', reject);
    parser.end(head);
  });
}

/** Classifies a message file (`mail check`): its first CLASSIFY_LIMIT_BYTES, as the relay sees them. */
export async function classifyFile(path: string, shops: readonly ShopConfig[], envelopeFrom: string,
  authUser: string | undefined): Promise<Classification> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(CLASSIFY_LIMIT_BYTES);
    const { bytesRead } = await fh.read(buf, 0, CLASSIFY_LIMIT_BYTES, 0);
    return await classify(buf.subarray(0, bytesRead), shops, envelopeFrom, authUser);
  } finally {
    await fh.close();
  }
}

/** Order mails have a few MIME parts and a few KiB of header: past these bounds a mail is not parsed. */
export const CLASSIFY_MAX_PARTS = 100;
export const CLASSIFY_MAX_HEADER_BYTES = 64 * 1024;

/** Why the head is beyond what classification reads, or null; one linear pass, no parsing. */
export function beyondBounds(head: Buffer): string | null {
  const text = head.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  if ((end < 0 ? text.length : end) > CLASSIFY_MAX_HEADER_BYTES) return 'header';
  const partHeader = /^content-type:/gim; // each MIME part has one (a part without one is rare and small)
  let parts = 0;
  while (parts <= CLASSIFY_MAX_PARTS && partHeader.exec(text)) parts++;
  return parts > CLASSIFY_MAX_PARTS ? 'parts' : null;
}

/**
 * A valid mail that classification cannot read (too many parts, a huge header, something the parser
 * refuses) is still accepted and delivered: it just is nobody's order (flag `unreadable`). The shop
 * comes from the trusted facts alone. Never a 451, which the sender would retry for days.
 */
function unreadable(shops: readonly ShopConfig[], envelopeFrom: string, authUser: string | undefined): Classification {
  const shop = findShop(shops, envelopeFrom, undefined, authUser);
  return { shop, headerFrom: undefined, subject: '', messageId: undefined, isOrder: false, orderNumber: undefined, items: [],
    flags: ['unreadable'] };
}

/** `head`: the start of the message; the spool hands over at most CLASSIFY_LIMIT_BYTES, and no more is looked at. */
export async function classify(head: Buffer, shops: readonly ShopConfig[], envelopeFrom: string,
  authUser: string | undefined): Promise<Classification> {
  const start = head.subarray(0, CLASSIFY_LIMIT_BYTES);
  if (beyondBounds(start)) return unreadable(shops, envelopeFrom, authUser);
  let parsed: Parsed;
  try {
    parsed = parseSinglePart(start) ?? await parseWithMailparser(start);
  } catch {
    return unreadable(shops, envelopeFrom, authUser);
  }
  const headerFrom = parsed.from?.value[0]?.address;
  const subject = parsed.subject ?? '';
  const shop = findShop(shops, envelopeFrom, headerFrom, authUser);
  const out: Classification = { shop, headerFrom, subject, messageId: parsed.messageId, isOrder: false, orderNumber: undefined, items: [],
    flags: [] };
  if (!shop || !new RegExp(shop.orderMail.subject, 'u').test(subject)) return out;
  out.isOrder = true;
  const text = parsed.text?.trim() ? parsed.text : typeof parsed.html === 'string' ? htmlToText(parsed.html) : '';
  out.orderNumber = new RegExp(shop.orderMail.orderNumber, 'u').exec(text)?.[1]
    ?? new RegExp(shop.orderMail.orderNumber, 'u').exec(subject)?.[1];
  out.items = extractItems(text, shop.orderMail.item.code, shop.orderMail.item.quantity);
  if (!out.orderNumber) out.flags.push('no_order_number');
  if (out.items.length === 0) out.flags.push('no_items');
  return out;
}

/** The forward-once claim of an order mail, or null when this shop forwards every copy. */
export function forwardClaim(shop: ShopConfig, c: Classification, qid: string): string | null {
  if (shop.forwardOnce === 'off') return null;
  if (shop.forwardOnce === 'order-number' && c.orderNumber) return `order:${c.orderNumber}`;
  return `message-id:${c.messageId ?? qid}`;
}
