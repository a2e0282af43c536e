// Mail queries shared by the `mail …` commands and the web console: the ledger as JSON views, and
// the flush / resend actions (check: queries/mail-check.ts). One copy of the logic; the callers only print or render.
// BullMQ and the delivery queue are loaded by flush and resend only: `mail list` and `mail show` read SQLite alone.
import type { Queue } from 'bullmq';
import type { Config } from '../config/schema.js';
import { BridgeError } from '../errors/codes.js';
import { LedgerStore, messageStatus, type MessageFilter, type MessageRow } from '../ledger/store.js';
import { mailJobId, type MailJobKind } from '../queue/names.js';
import { openMessage, type StoredMessage } from '../intake/spool/stored-message.js';
import { iso } from './time.js';
import { silentLogger } from '../observe/logger.js';

const messageJson = (m: MessageRow & { status?: string; to?: string }) => ({
  id: m.id,
  receivedAt: iso(m.received_at),
  from: m.mail_from,
  to: m.to ? m.to.split(', ') : [],
  subject: m.subject,
  shop: m.shop_id,
  isOrder: !!m.is_order,
  orderNumber: m.order_number,
  forward: m.forward,
  status: m.status,
});
export type MessageJson = ReturnType<typeof messageJson>;

export type { MessageFilter };

/** `mail list`: newest first. */
export function listMessages(ledger: LedgerStore, filter: MessageFilter): MessageJson[] {
  return ledger.list(filter).map(messageJson);
}

/**
 * One page of the mail list for the console, keyset-paged: `after` is the cursor the page before gave
 * as `next` (`<received at ms>.<queue id>` of its last row); `next` is set when another page follows.
 */
export function messagesPage(ledger: LedgerStore, filter: Omit<MessageFilter, 'before' | 'offset'>, after?: string) {
  const m = /^(\d{1,15})\.([0-9A-Za-z]{1,40})$/.exec(after ?? '');
  const rows = ledger.list({ ...filter, limit: filter.limit + 1, before: m ? { receivedAt: Number(m[1]), id: m[2] } : undefined });
  const last = rows.length > filter.limit ? rows[filter.limit - 1] : undefined;
  return { messages: rows.slice(0, filter.limit).map(messageJson), next: last && `${last.received_at}.${last.id}` };
}

/** `mail show`: the message, its envelope, classification and every recipient's outcome; undefined when unknown. */
export function messageView(ledger: LedgerStore, id: string, page: { limit?: number; offset?: number } = {}) {
  const m = ledger.message(id);
  if (!m) return undefined;
  const all = ledger.recipients(id);
  const to = all
    .filter((r) => r.kind === 'deliver')
    .map((r) => r.address)
    .join(', ');
  const offset = page.offset ?? 0;
  const recipients = all.slice(offset, page.limit === undefined ? undefined : offset + page.limit);
  return {
    ...messageJson({ ...m, status: messageStatus(all), to }),
    shopBy: m.shop_by,
    messageId: m.message_id,
    client: m.client_address,
    helo: m.client_helo,
    authUser: m.auth_user,
    size: m.size,
    spool: (m.spool_removed ? undefined : openMessage(ledger, id))?.where ?? null,
    items: JSON.parse(m.items ?? '[]') as { code: string; quantity: number }[],
    flags: JSON.parse(m.flags ?? '[]') as string[],
    forwardReason: m.forward_reason,
    recipients: recipients.map((r) => ({
      kind: r.kind,
      address: r.address,
      status: r.status,
      attempts: r.attempts,
      response: r.response,
      updatedAt: iso(r.updated_at),
      nextAttemptAt: iso(r.next_attempt_at),
    })),
  };
}

/** Why a message's spool file is gone, and what that means for `mail show --raw` and `mail resend`. */
export function spoolGone(keepDays: number): string {
  return keepDays === 0
    ? 'spool file removed once delivered (spool.keepDays: 0): mail show --raw and mail resend need spool.keepDays above 0'
    : `spool file removed (kept ${keepDays} day(s) after delivery: spool.keepDays)`;
}

/** A message's bytes while the spool keeps them (`mail show --raw`, the console); throws NOT_FOUND otherwise. */
export function spooledMessage(ledger: LedgerStore, id: string, keepDays: number): StoredMessage {
  const m = ledger.message(id);
  if (!m) throw new BridgeError('NOT_FOUND', `no message ${id} in the ledger`);
  const message = openMessage(ledger, id);
  if (!message) throw new BridgeError('NOT_FOUND', `${id}: ${spoolGone(keepDays)}`);
  return message;
}

/** `mail flush`: every deferred delivery scheduled now (postqueue -f); returns how many jobs. */
export async function flushDeferred(queue: Queue, ledger: LedgerStore): Promise<number> {
  const [{ Job }, { enqueueMail }] = await Promise.all([import('bullmq'), import('../intake/enqueue.js')]);
  let n = 0;
  for (const { id, kind } of ledger.deferredIds()) {
    const job = await Job.fromId(queue, mailJobId(id, kind));
    if (job && (await job.isDelayed())) {
      await job.promote();
      n++;
    } else if (!job && (await enqueueMail(queue, id, [kind], 3000))) n++;
  }
  return n;
}

/**
 * `mail resend [--forward]`: deliver again on purpose with a fresh job id. A forward takes the order's
 * forward-once claim again first (locally and in Redis), and is refused while another message holds it.
 */
export async function resendMessage(
  config: Config,
  queue: Queue,
  ledger: LedgerStore,
  id: string,
  forward: boolean,
): Promise<{ kind: MailJobKind; to: string[] }> {
  const m = ledger.message(id);
  if (!m) throw new BridgeError('NOT_FOUND', `no message ${id} in the ledger`);
  if (!openMessage(ledger, id)) throw new BridgeError('NOT_FOUND', `${id}: ${spoolGone(config.spool.keepDays)}; nothing to resend`);
  const kind: MailJobKind = forward ? 'forward' : 'deliver';
  const shop = config.shops.find((s) => s.id === m.shop_id);
  const to = forward ? (shop?.forwardTo ? [shop.forwardTo] : []) : ledger.recipients(id, 'deliver').map((r) => r.address);
  if (to.length === 0) throw new BridgeError('BAD_INPUT', `${id}: no ${kind} recipients${forward ? ' (the shop has no forwardTo)' : ''}`);
  const { enqueueMail } = await import('../intake/enqueue.js');
  const { forwardClaim } = await import('../intake/classify/classify.js');
  const claim =
    forward && shop ? forwardClaim(shop, { orderNumber: m.order_number ?? undefined, messageId: m.message_id ?? undefined }, id) : null;
  if (shop && claim) {
    const { ForwardOnce } = await import('../intake/forward-once.js');
    await new ForwardOnce(ledger, queue, config.instance, () => config, silentLogger).retake(id, shop.id, claim);
  }
  ledger.requeue(id, kind, to);
  const attempt = Date.now().toString(36);
  if (!(await enqueueMail(queue, id, [kind], 3000, (q, k) => `${mailJobId(q, k)}-r${attempt}`))) {
    throw new BridgeError('REDIS_UNAVAILABLE', 'could not add the job');
  }
  return { kind, to };
}
