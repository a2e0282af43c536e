// Prepared statements over ledger.db: accepted messages, per-recipient outcomes, forward-once claims.
import type { Statement } from 'better-sqlite3';
import { statementCache, type DB } from '../db/open.js';
import type { MailJobKind } from '../queue/names.js';

export type RecipientStatus = 'queued' | 'deferred' | 'sent' | 'failed';
type ForwardState = 'none' | 'queued' | 'sent' | 'suppressed' | 'failed';

export interface NewMessage {
  id: string;
  receivedAt: number;
  clientAddress: string;
  clientHelo: string;
  authUser: string | null;
  mailFrom: string;
  headerFrom: string | null;
  subject: string;
  messageId: string | null;
  size: number;
  /** Where the bytes are: a spool file, or (spoolPath '') `body`, stored in this commit (Spool.write decides). */
  spoolPath: string;
  body?: Buffer | null;
  shopId: string | null;
  shopBy?: string | null;
  isOrder: boolean;
  orderNumber: string | null;
  items: unknown[];
  flags: string[];
  deliverTo: string[];
  forwardTo: string | null;
  claim: string | null;
  /** 'pending': an order mail whose items lower stock.db; the sweep hands it to the stock queue. */
  stockJob?: 'pending' | null;
}

export interface Outcome {
  address: string;
  status: RecipientStatus;
  response: string;
  nextAttemptAt?: number | null;
}
export interface AcceptResult {
  forward: ForwardState;
  reason: string | null;
}

export interface MessageRow {
  id: string;
  received_at: number;
  client_address: string;
  client_helo: string;
  auth_user: string | null;
  mail_from: string;
  header_from: string | null;
  subject: string;
  message_id: string | null;
  size: number;
  spool_path: string;
  spool_removed: number;
  shop_id: string | null;
  shop_by: string | null;
  is_order: number;
  order_number: string | null;
  items: string;
  flags: string;
  forward: ForwardState;
  forward_reason: string | null;
}
export type PendingStockRow = Pick<MessageRow, 'id' | 'received_at' | 'shop_id' | 'order_number' | 'message_id' | 'items'>;
export type DeliveryRow = Pick<MessageRow, 'id' | 'received_at' | 'mail_from' | 'shop_id'>;
/** Where a message's bytes are (read through intake/spool/stored-message.ts only). */
export interface StoredRow {
  size: number;
  spool_path: string;
  spool_removed: number;
  body: Buffer | null;
}
/** A message's status, as `mail list` shows it: its least advanced recipient. */
export function messageStatus(recipients: readonly Pick<RecipientRow, 'status'>[]): 'deferred' | 'queued' | 'failed' | 'sent' {
  for (const s of ['deferred', 'queued', 'failed'] as const) if (recipients.some((r) => r.status === s)) return s;
  return 'sent';
}
/** `releasedClaim`: the forward-once claim this failed forward gave up, so a later mail of the order forwards. */
export interface RecordSummary {
  final: boolean;
  sent: number;
  failed: number;
  releasedClaim?: string;
}
export interface RecipientRow {
  message_id: string;
  kind: MailJobKind;
  address: string;
  status: RecipientStatus;
  attempts: number;
  response: string | null;
  updated_at: number;
  next_attempt_at: number | null;
}

/** A message's status from its recipients: deferred before queued before failed; else sent. */
const MESSAGE_STATUS = `CASE
  WHEN EXISTS (SELECT 1 FROM message_recipients r WHERE r.message_id = m.id AND r.status = 'deferred') THEN 'deferred'
  WHEN EXISTS (SELECT 1 FROM message_recipients r WHERE r.message_id = m.id AND r.status = 'queued') THEN 'queued'
  WHEN EXISTS (SELECT 1 FROM message_recipients r WHERE r.message_id = m.id AND r.status = 'failed') THEN 'failed'
  ELSE 'sent' END`;

/** What `mail list` and the console's mail page filter by; one page of it. */
export interface MessageFilter {
  since?: number;
  order?: string;
  status?: string;
  forward?: string;
  limit: number;
  offset?: number;
  /** Keyset paging: only messages older than this one (the last of the page before), whatever the page's depth. */
  before?: { receivedAt: number; id: string };
}

export class LedgerStore {
  /** Prepared once per store (see statementCache). */
  private readonly sql: (text: string) => Statement;

  constructor(readonly db: DB) {
    this.sql = statementCache(db);
  }

  /**
   * The accept transaction: message row, recipients, and the forward-once claim together (a claim
   * already held means the forward is suppressed). Group commit: several accepts in one transaction,
   * each in its own savepoint, so one message's failure is its own. Returns, per message in order,
   * its forward state and why, or its Error.
   */
  acceptMany(messages: NewMessage[]): (AcceptResult | Error)[] {
    const one = this.db.transaction((m: NewMessage) => this.insertAccepted(m));
    return this.db
      .transaction(() =>
        messages.map((m) => {
          try {
            return one(m);
          } catch (err) {
            return err as Error;
          }
        }),
      )
      .immediate();
  }

  private insertAccepted(m: NewMessage): AcceptResult {
    {
      let forward: ForwardState = m.forwardTo ? 'queued' : 'none';
      let reason: string | null = m.forwardTo ? null : m.isOrder ? 'shop has no forwardTo' : null;
      if (m.forwardTo && m.claim) {
        const taken =
          this.sql('INSERT OR IGNORE INTO forward_claims (shop_id, claim, message_id, claimed_at) VALUES (?, ?, ?, ?)').run(
            m.shopId,
            m.claim,
            m.id,
            m.receivedAt,
          ).changes === 0;
        if (taken) {
          const first = this.sql('SELECT message_id FROM forward_claims WHERE shop_id = ? AND claim = ?').pluck().get(m.shopId, m.claim);
          forward = 'suppressed';
          reason = `forward-once: ${m.claim} already forwarded with ${first}`;
        }
      }
      this.sql(
        `INSERT INTO messages (id, received_at, client_address, client_helo, auth_user, mail_from, header_from, subject, message_id,
          size, spool_path, shop_id, shop_by, is_order, order_number, items, flags, forward, forward_reason, stock_job)
        VALUES (@id, @receivedAt, @clientAddress, @clientHelo, @authUser, @mailFrom, @headerFrom, @subject, @messageId,
          @size, @spoolPath, @shopId, @shopBy, @isOrder, @orderNumber, @items, @flags, @forward, @reason, @stockJob)`,
      ).run({
        ...m,
        shopBy: m.shopBy ?? null,
        stockJob: m.stockJob ?? null,
        isOrder: m.isOrder ? 1 : 0,
        items: JSON.stringify(m.items),
        flags: JSON.stringify(m.flags),
        forward,
        reason,
      });
      if (m.body) this.sql('INSERT INTO message_bodies (message_id, body) VALUES (?, ?)').run(m.id, m.body);
      const rcpt = this.sql(
        "INSERT OR IGNORE INTO message_recipients (message_id, kind, address, status, updated_at) VALUES (?, ?, ?, 'queued', ?)",
      );
      for (const to of m.deliverTo) rcpt.run(m.id, 'deliver', to, m.receivedAt);
      if (forward === 'queued') rcpt.run(m.id, 'forward', m.forwardTo, m.receivedAt);
      return { forward, reason };
    }
  }

  message(id: string): MessageRow | undefined {
    return this.sql('SELECT * FROM messages WHERE id = ?').get(id) as MessageRow | undefined;
  }

  recipients(id: string, kind?: MailJobKind): RecipientRow[] {
    return this.sql('SELECT * FROM message_recipients WHERE message_id = ? AND (? IS NULL OR kind = ?) ORDER BY kind, address').all(
      id,
      kind ?? null,
      kind ?? null,
    ) as RecipientRow[];
  }

  pending(id: string, kind: MailJobKind): string[] {
    return this.sql(
      `SELECT address FROM message_recipients
      WHERE message_id = ? AND kind = ? AND status IN ('queued', 'deferred') ORDER BY address`,
    )
      .pluck()
      .all(id, kind) as string[];
  }

  /** What a delivery job needs: the message's envelope facts and the recipients still pending. */
  delivery(id: string, kind: MailJobKind): { msg: DeliveryRow; pending: string[] } | undefined {
    const msg = this.sql('SELECT id, received_at, mail_from, shop_id FROM messages WHERE id = ?').get(id) as DeliveryRow | undefined;
    return msg && { msg, pending: this.pending(id, kind) };
  }

  /**
   * Records the outcomes of one delivery attempt, in one transaction, the moment the upstream answered;
   * keeps messages.forward in step. Says whether every recipient of the message is now final, with
   * the totals; `removeSpool`: a final message's spool file is marked removed in the same transaction
   * (the caller unlinks it next; a crash in between leaves a file that start-up removes).
   */
  record(id: string, kind: MailJobKind, outcomes: Outcome[], opts: { removeSpool?: boolean; now?: number } = {}): RecordSummary {
    const now = opts.now ?? Date.now();
    return this.db.transaction(() => {
      const update = this.sql(`UPDATE message_recipients
        SET status = ?, response = ?, attempts = attempts + 1, updated_at = ?, next_attempt_at = ?
        WHERE message_id = ? AND kind = ? AND address = ?`);
      let releasedClaim: string | undefined;
      for (const o of outcomes) {
        update.run(o.status, o.response.slice(0, 1000), now, o.nextAttemptAt ?? null, id, kind, o.address);
        if (kind === 'forward' && (o.status === 'sent' || o.status === 'failed'))
          this.sql('UPDATE messages SET forward = ? WHERE id = ?').run(o.status, id);
        if (kind === 'forward' && o.status === 'failed') releasedClaim = this.releaseClaim(id, o.response) ?? releasedClaim;
      }
      const t = this.sql(
        `SELECT COALESCE(SUM(status IN ('queued', 'deferred')), 0) AS open, COALESCE(SUM(status = 'sent'), 0) AS sent,
          COALESCE(SUM(status = 'failed'), 0) AS failed FROM message_recipients WHERE message_id = ?`,
      ).get(id) as { open: number; sent: number; failed: number };
      const final = t.open === 0;
      if (final && opts.removeSpool) this.markSpoolRemoved(id);
      return { final, sent: t.sent, failed: t.failed, releasedClaim };
    })();
  }

  /**
   * A forward that failed for good gives its forward-once claim back (in the transaction that records
   * the failure): zaiko Robot never got this order, so a later mail of it is forwarded. The ledger
   * says so in forward_reason. `mail resend --forward` stays the explicit way to send this one again.
   */
  private releaseClaim(id: string, response: string): string | undefined {
    const claim = this.sql('SELECT claim FROM forward_claims WHERE message_id = ?').pluck().get(id) as string | undefined;
    if (claim === undefined) return undefined;
    this.sql('DELETE FROM forward_claims WHERE message_id = ?').run(id);
    const why = `forward failed: ${response.slice(0, 300)}; claim ${claim} released: a later mail of this order will be forwarded`;
    this.sql('UPDATE messages SET forward_reason = ? WHERE id = ?').run(why, id);
    return claim;
  }

  /** The forward-once claim this message holds in this ledger, if any. */
  claimOf(id: string): { shop_id: string; claim: string } | undefined {
    return this.sql('SELECT shop_id, claim FROM forward_claims WHERE message_id = ?').get(id) as
      { shop_id: string; claim: string } | undefined;
  }

  /**
   * Another relay's message holds the order's claim (asked in Redis): this message is delivered, not
   * forwarded. Its forward recipient and its local claim go; the ledger says why.
   */
  suppressForward(id: string, reason: string): void {
    this.db.transaction(() => {
      this.sql("DELETE FROM message_recipients WHERE message_id = ? AND kind = 'forward' AND status IN ('queued', 'deferred')").run(id);
      this.sql("UPDATE messages SET forward = 'suppressed', forward_reason = ? WHERE id = ?").run(reason, id);
      this.sql('DELETE FROM forward_claims WHERE message_id = ?').run(id);
    })();
  }

  /** Takes the claim for this message if no other message of this ledger holds it; returns the holder's id. */
  retakeClaim(shopId: string, claim: string, id: string, now = Date.now()): string {
    this.sql('INSERT OR IGNORE INTO forward_claims (shop_id, claim, message_id, claimed_at) VALUES (?, ?, ?, ?)').run(
      shopId,
      claim,
      id,
      now,
    );
    return this.sql('SELECT message_id FROM forward_claims WHERE shop_id = ? AND claim = ?').pluck().get(shopId, claim) as string;
  }

  /** Gives back a claim this message holds (a resend refused by Redis). */
  dropClaim(id: string): void {
    this.sql('DELETE FROM forward_claims WHERE message_id = ?').run(id);
  }

  /** Re-arms recipients for a resend (`mail resend`): they go back to queued. */
  requeue(id: string, kind: MailJobKind, addresses: string[], now = Date.now()): void {
    const st = this.sql(
      "UPDATE message_recipients SET status = 'queued', updated_at = ? WHERE message_id = ? AND kind = ? AND address = ?",
    );
    const ins = this.sql(
      "INSERT OR IGNORE INTO message_recipients (message_id, kind, address, status, updated_at) VALUES (?, ?, ?, 'queued', ?)",
    );
    this.db.transaction(() => {
      for (const a of addresses) {
        ins.run(id, kind, a, now);
        st.run(now, id, kind, a);
      }
      if (kind === 'forward') this.sql("UPDATE messages SET forward = 'queued' WHERE id = ?").run(id);
    })();
  }

  /** Messages with a recipient not yet final: what the recovery sweep makes sure is queued. */
  unfinished(): { id: string; kind: MailJobKind }[] {
    return this.sql(
      `SELECT DISTINCT message_id AS id, kind FROM message_recipients
      WHERE status IN ('queued', 'deferred') ORDER BY message_id`,
    ).all() as { id: string; kind: MailJobKind }[];
  }

  /** Order mails whose stock decrement Redis has not confirmed yet (oldest first, a bounded batch). */
  pendingStockJobs(limit = 1000): PendingStockRow[] {
    return this.sql(
      `SELECT id, received_at, shop_id, order_number, message_id, items FROM messages
      WHERE stock_job = 'pending' ORDER BY received_at, id LIMIT ?`,
    ).all(limit) as PendingStockRow[];
  }

  /** The stock queue holds (or held) these decrements: the sweep stops adding them. */
  markStockJobsQueued(ids: readonly string[]): void {
    const mark = this.sql("UPDATE messages SET stock_job = 'queued' WHERE id = ? AND stock_job = 'pending'");
    this.db.transaction(() => ids.forEach((id) => mark.run(id)))();
  }

  deferredIds(): { id: string; kind: MailJobKind }[] {
    return this.sql("SELECT DISTINCT message_id AS id, kind FROM message_recipients WHERE status = 'deferred'").all() as {
      id: string;
      kind: MailJobKind;
    }[];
  }

  /** At start: a spool file is kept only while its ledger row exists and does not say it was removed. */
  spoolKept(id: string): boolean {
    return this.sql('SELECT spool_removed FROM messages WHERE id = ?').pluck().get(id) === 0;
  }

  /** The mark; a body kept in the ledger goes in the same transaction (a file goes after it: the caller unlinks). */
  markSpoolRemoved(id: string): void {
    this.db.transaction(() => {
      this.sql('UPDATE messages SET spool_removed = 1 WHERE id = ?').run(id);
      this.sql('DELETE FROM message_bodies WHERE message_id = ?').run(id);
    })();
  }

  /** Where the message's bytes are; undefined when the ledger has no such message. */
  stored(id: string): StoredRow | undefined {
    return this.sql(
      `SELECT m.size, m.spool_path, m.spool_removed, b.body FROM messages m
      LEFT JOIN message_bodies b ON b.message_id = m.id WHERE m.id = ?`,
    ).get(id) as StoredRow | undefined;
  }

  /** Final messages whose spool file may go: older than keepDays and not removed yet. */
  removableSpool(keepDays: number, now = Date.now()): string[] {
    return this.sql(
      `SELECT id FROM messages m WHERE spool_removed = 0 AND received_at <= ?
      AND NOT EXISTS (SELECT 1 FROM message_recipients r WHERE r.message_id = m.id AND r.status IN ('queued', 'deferred')) LIMIT 1000`,
    )
      .pluck()
      .all(now - keepDays * 86_400_000) as string[];
  }

  /**
   * Retention, one bounded transaction: at most `rows` ledger rows older than mailDays (final ones only,
   * with their recipients), then forward claims as old, within what is left of `rows`. Returns how many
   * rows went; the caller repeats while that is `rows` (db/batches.ts), so the accept path never waits long.
   */
  prune(mailDays: number, rows: number, now = Date.now()): number {
    const before = now - mailDays * 86_400_000;
    return this.db.transaction(() => {
      const ids = this.sql(
        `SELECT id FROM messages m WHERE received_at < ? AND spool_removed = 1
        AND NOT EXISTS (SELECT 1 FROM message_recipients r WHERE r.message_id = m.id AND r.status IN ('queued', 'deferred')) LIMIT ?`,
      )
        .pluck()
        .all(before, rows) as string[];
      const del = this.sql('DELETE FROM messages WHERE id = ?');
      for (const id of ids) del.run(id);
      if (ids.length === rows) return rows;
      const claims = this.sql('DELETE FROM forward_claims WHERE rowid IN (SELECT rowid FROM forward_claims WHERE claimed_at < ? LIMIT ?)');
      return ids.length + claims.run(before, rows - ids.length).changes;
    })();
  }

  /** Delivery and forward jobs with no recipient left queued or deferred (the mail queue forgets them on completion). */
  finishedJobCount(): number {
    return this.sql(
      `SELECT COUNT(*) FROM (SELECT 1 FROM message_recipients GROUP BY message_id, kind
      HAVING SUM(status IN ('queued', 'deferred')) = 0)`,
    )
      .pluck()
      .get() as number;
  }

  /**
   * The mail list, newest first, a page of it. Only the filters given go into the SQL (one cached statement
   * per combination), so each runs on an index: (received_at, id) for the order and `since`, order_number,
   * and the partial recipient indexes for the queued/deferred/failed states. The status of a row is worked
   * out for the rows of the page only (and for the rows tested by a status filter).
   */
  list(opts: MessageFilter): (MessageRow & { status: string; to: string })[] {
    const where: string[] = [];
    if (opts.since !== undefined) where.push('m.received_at >= @since');
    if (opts.order !== undefined) where.push('m.order_number = @order');
    if (opts.forward !== undefined) where.push('m.forward = @forward');
    if (opts.before !== undefined) where.push('(m.received_at, m.id) < (@beforeAt, @beforeId)');
    if (opts.status !== undefined) {
      if (opts.status === 'failed') where.push("m.id IN (SELECT message_id FROM message_recipients WHERE status = 'failed')");
      if (opts.status === 'queued' || opts.status === 'deferred') {
        where.push("m.id IN (SELECT message_id FROM message_recipients WHERE status IN ('queued', 'deferred'))");
      }
      where.push(`${MESSAGE_STATUS} = @status`);
    }
    return this.sql(
      `SELECT m.*,
        (SELECT group_concat(address, ', ') FROM message_recipients r WHERE r.message_id = m.id AND r.kind = 'deliver') AS "to",
        ${MESSAGE_STATUS} AS status
      FROM messages m ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY m.received_at DESC, m.id DESC LIMIT @limit OFFSET @offset`,
    ).all({
      since: opts.since,
      order: opts.order,
      status: opts.status,
      forward: opts.forward,
      beforeAt: opts.before?.receivedAt,
      beforeId: opts.before?.id,
      limit: opts.limit,
      offset: opts.offset ?? 0,
    }) as any[];
  }
}
