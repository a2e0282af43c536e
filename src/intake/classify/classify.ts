// What a spooled message is: whose shop (by trusted facts only: AUTH user, envelope sender, original
// client; the header From may only tell two such shops apart), whether it is an order mail (subject
// rule on the decoded subject), its order number and items (from the decoded text part).
import { open } from 'node:fs/promises';
import { MailParser, type AddressObject, type AttachmentStream, type MessageText } from 'mailparser';
import { parseSinglePart, type Parsed } from './single-part.js';
import { htmlToText } from './html-text.js';
import type { ShopConfig } from '../../config/schema.js';
import { allowList } from '../../net/address-list.js';
import { CLASSIFY_LIMIT_BYTES } from '../spool/spool.js';

export interface OrderItem {
  code: string;
  quantity: number;
}
/** What the relay knows about a mail from outside the message: the message itself can claim anything. */
export interface SenderFacts {
  envelopeFrom: string;
  authUser?: string;
  /** The original client: the peer, or behind Postfix the address its XFORWARD ADDR= names. */
  client?: string;
}
/** Which fact made the mail the shop's. */
type ShopBy = 'auth' | 'sender' | 'client';
export interface ShopMatch {
  shop: ShopConfig | undefined;
  by: ShopBy | undefined;
  why: string;
}

export interface Classification {
  shop: ShopConfig | undefined;
  shopBy: ShopBy | undefined;
  /** How the shop was (or was not) recognised, in words (mail check, logs). */
  shopWhy: string;
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

const clientLists = new WeakMap<ShopConfig, (address: string) => boolean>();
function clientAllowed(shop: ShopConfig, client: string | undefined): boolean {
  if (shop.clients.length === 0) return true;
  let inList = clientLists.get(shop);
  if (!inList) clientLists.set(shop, (inList = allowList(shop.clients)));
  return client !== undefined && inList(client);
}

/** The fact that ties a mail to this shop, if one does; shops[].clients, when set, must hold as well. */
function trustedFact(shop: ShopConfig, f: SenderFacts): ShopBy | undefined {
  if (!clientAllowed(shop, f.client)) return undefined;
  if (f.authUser && shop.authUsers.includes(f.authUser)) return 'auth';
  if (senderMatches(shop.senders, f.envelopeFrom)) return 'sender';
  // A shop known by its clients alone (no senders, no AUTH users): every mail from them is its own.
  if (shop.clients.length && !shop.senders.length && !shop.authUsers.length) return 'client';
  return undefined;
}

/**
 * The shop of a mail, by trusted facts only: AUTH user, then envelope sender, then client. The header
 * From only picks between shops those facts leave equal; a mail tied to a shop by its From alone is not
 * that shop's (anyone can write any From).
 */
export function findShop(shops: readonly ShopConfig[], f: SenderFacts, headerFrom: string | undefined): ShopMatch {
  for (const by of ['auth', 'sender', 'client'] as const) {
    const candidates = shops.filter((s) => trustedFact(s, f) === by);
    if (!candidates.length) continue;
    const shop = candidates.find((s) => senderMatches(s.senders, headerFrom)) ?? candidates[0];
    const fact = by === 'auth' ? `AUTH user ${f.authUser}` : by === 'sender' ? `envelope sender <${f.envelopeFrom}>` : `client ${f.client}`;
    const from = by !== 'client' && shop.clients.length ? ` from client ${f.client}` : '';
    return { shop, by, why: `${shop.id} by ${fact}${from}` };
  }
  const byFrom = shops.find((s) => senderMatches(s.senders, headerFrom));
  const blocked = shops.find(
    (s) => !clientAllowed(s, f.client) && (senderMatches(s.senders, f.envelopeFrom) || (f.authUser && s.authUsers.includes(f.authUser))),
  );
  const why = blocked
    ? `not ${blocked.id}'s: client ${f.client ?? 'unknown'} is not in its shops[].clients`
    : byFrom
      ? `not ${byFrom.id}'s: only the header From <${headerFrom}> names it; the envelope sender, AUTH user and client do not`
      : 'no shop recognises this sender (shops[].senders / authUsers / clients)';
  return { shop: undefined, by: undefined, why };
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
export async function classifyFile(path: string, shops: readonly ShopConfig[], facts: SenderFacts): Promise<Classification> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(CLASSIFY_LIMIT_BYTES);
    const { bytesRead } = await fh.read(buf, 0, CLASSIFY_LIMIT_BYTES, 0);
    return await classify(buf.subarray(0, bytesRead), shops, facts);
  } finally {
    await fh.close();
  }
}

/** Order mails have a few MIME parts and a few KiB of header: past these bounds a mail is not parsed. */
const CLASSIFY_MAX_PARTS = 100;
const CLASSIFY_MAX_HEADER_BYTES = 64 * 1024;

/** Why the head is beyond what classification reads, or null; one linear pass, no parsing. */
function beyondBounds(head: Buffer): string | null {
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
function unreadable(shops: readonly ShopConfig[], facts: SenderFacts): Classification {
  const { shop, by, why } = findShop(shops, facts, undefined);
  return {
    shop,
    shopBy: by,
    shopWhy: why,
    headerFrom: undefined,
    subject: '',
    messageId: undefined,
    isOrder: false,
    orderNumber: undefined,
    items: [],
    flags: ['unreadable'],
  };
}

/** `head`: the start of the message; the spool hands over at most CLASSIFY_LIMIT_BYTES, and no more is looked at. */
export async function classify(head: Buffer, shops: readonly ShopConfig[], facts: SenderFacts): Promise<Classification> {
  const start = head.subarray(0, CLASSIFY_LIMIT_BYTES);
  if (beyondBounds(start)) return unreadable(shops, facts);
  let parsed: Parsed;
  try {
    parsed = parseSinglePart(start) ?? (await parseWithMailparser(start));
  } catch {
    return unreadable(shops, facts);
  }
  const headerFrom = parsed.from?.value[0]?.address;
  const subject = parsed.subject ?? '';
  const { shop, by, why } = findShop(shops, facts, headerFrom);
  const out: Classification = {
    shop,
    shopBy: by,
    shopWhy: why,
    headerFrom,
    subject,
    messageId: parsed.messageId,
    isOrder: false,
    orderNumber: undefined,
    items: [],
    flags: [],
  };
  if (!shop || !new RegExp(shop.orderMail.subject, 'u').test(subject)) return out;
  out.isOrder = true;
  const text = parsed.text?.trim() ? parsed.text : typeof parsed.html === 'string' ? htmlToText(parsed.html) : '';
  out.orderNumber =
    new RegExp(shop.orderMail.orderNumber, 'u').exec(text)?.[1] ?? new RegExp(shop.orderMail.orderNumber, 'u').exec(subject)?.[1];
  out.items = extractItems(text, shop.orderMail.item.code, shop.orderMail.item.quantity);
  if (!out.orderNumber) out.flags.push('no_order_number');
  if (out.items.length === 0) out.flags.push('no_items');
  return out;
}

/** The forward-once claim of an order mail, or null when this shop forwards every copy. */
export function forwardClaim(shop: ShopConfig, c: Pick<Classification, 'orderNumber' | 'messageId'>, qid: string): string | null {
  if (shop.forwardOnce === 'off') return null;
  if (shop.forwardOnce === 'order-number' && c.orderNumber) return `order:${c.orderNumber}`;
  return `message-id:${c.messageId ?? qid}`;
}
