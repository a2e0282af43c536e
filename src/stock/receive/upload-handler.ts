// What one POST to /api/zaikorobot.php means: decode, authenticate, store, enqueue, wait, answer.
// Returns status + answer lines; the HTTP plumbing is in server.ts. Answers follow design.md's table.
import type { Queue } from 'bullmq';
import type { Config, ShopConfig } from '../../config/schema.js';
import { ConfigHolder } from '../../config/holder.js';
import { costliestHash, verifyPassword } from '../../config/password.js';
import type { Logger } from '../../observe/logger.js';
import type { ApplyJobData } from '../../queue/names.js';
import type { UploadStore } from '../store.js';
import { enqueueApply, waitApplied } from '../apply/enqueue.js';
import { parseUrlencoded, parseMultipart, contentTypeParams, FormError, type OnField } from './form.js';
import { chooseCharset, decode, encode, CharsetError, type Charset } from './charset.js';
import { readUploadRequest } from './upload-request.js';
import { Lockout } from '../../security/lockout.js';
import { preview, escapeLineText, asciiDetail, clip } from '../../security/untrusted-text.js';
import type { Metrics } from '../../observe/metrics.js';
import { ngAnswer, type StockErrorCode } from '../../errors/codes.js';
import { answerToken } from '../../errors/skip-reasons.js';
import { releaseAfterUpload } from '../release-memory.js';

export interface Answer {
  status: number;
  lines: string[];
  charset: Charset;
}

/** What the HTTP server needs of the upload endpoint: an UploadHandler in this thread (the `receiver`
 * role), or, under `start`, one in the stock thread behind roles/thread-uploads.ts. */
export interface Uploads {
  handle(body: Buffer, contentType: string | undefined, client: string): Promise<Answer>;
  /** Uploads the HTTP layer refused before a handler saw them (size by Content-Length, receiver.maxInflightBytes). */
  countRefused(answer: 'too_large' | 'busy'): void;
  /** Item metrics of uploads applied after their answer (called before each scrape). */
  countLateApplies(): void | Promise<void>;
}

/** Where an upload's figures go: the process's Metrics, or (in `start`'s stock thread) messages to them. */
export interface UploadFigures {
  answered(answer: string, seconds?: number): void;
  items(outcome: string, reason: string, count: number): void;
}

export const figuresOf = (metrics: Metrics): UploadFigures => ({
  answered(answer, seconds) {
    metrics.uploads.inc({ answer });
    if (seconds !== undefined) metrics.uploadSeconds.observe(seconds);
  },
  items: (outcome, reason, count) => metrics.uploadItems.inc({ outcome, reason }, count),
});

/** A refusal; a `bad_request(…)` text is ASCII with every other byte as %XX, so it stays one line. */
const ng = (code: StockErrorCode, detail?: string): Answer => ({
  ...ngAnswer(code, detail === undefined ? undefined : asciiDetail(detail)),
  charset: 'utf-8',
});

/** What a request is checked against, derived once per config (a reload makes a new one). */
interface Accounts {
  cfg: Config;
  shopsByUser: Map<string, ShopConfig>;
  /** A longer sys_id cannot be anyone's: refused before any lookup, count or password check. */
  longestSysId: number;
  /** What an unknown sys_id's password is checked against, so it costs what a known one does. */
  imitatedHash: string | undefined;
}

function accountsOf(cfg: Config): Accounts {
  return {
    cfg,
    shopsByUser: new Map(cfg.shops.map((s) => [s.zaikoRobot.userId, s])),
    longestSysId: Math.max(0, ...cfg.shops.map((s) => s.zaikoRobot.userId.length)),
    imitatedHash: costliestHash(cfg.shops.map((s) => s.zaikoRobot.password)),
  };
}

export class UploadHandler implements Uploads {
  readonly lockout: Lockout;
  private readonly holder: ConfigHolder;
  private readonly accountsByConfig = new WeakMap<Config, Accounts>();

  /** Uploads answered before they were applied: counted into the item metrics once they are. */
  private readonly unapplied = new Set<number>();

  constructor(
    config: Config | ConfigHolder,
    private readonly store: UploadStore,
    private readonly queue: Queue<ApplyJobData>,
    private readonly log: Logger,
    private readonly metrics?: UploadFigures,
  ) {
    this.holder = ConfigHolder.of(config);
    const l = this.holder.get().receiver.lockout; // a restart key: the counts outlive reloads
    this.lockout = new Lockout({ failures: l.failures, windowMs: l.window, durationMs: l.duration });
  }

  /** The accounts of the current config; a request takes them once, at its start. */
  private accounts(): Accounts {
    const cfg = this.holder.get();
    let a = this.accountsByConfig.get(cfg);
    if (!a) this.accountsByConfig.set(cfg, (a = accountsOf(cfg)));
    return a;
  }

  /** The form parser for this Content-Type, bound to the body. */
  private parser(body: Buffer, contentType: string | undefined): (onField: OnField) => void {
    const ct = contentTypeParams(contentType);
    if (ct.type === 'multipart/form-data') {
      if (!ct.boundary) throw new FormError('no_multipart_boundary');
      return (onField) => parseMultipart(body, ct.boundary!, onField);
    }
    if (ct.type === 'application/x-www-form-urlencoded' || ct.type === '') return (onField) => parseUrlencoded(body, onField);
    throw new FormError(`unsupported_content_type ${clip(ct.type)}`);
  }

  async handle(body: Buffer, contentType: string | undefined, client: string): Promise<Answer> {
    const started = performance.now();
    let stored = 0;
    const answer = await this.answer(body, contentType, client, (items) => (stored = items));
    const seconds = (performance.now() - started) / 1000;
    // Once the answer is out and the parsed items are garbage (only a stored upload: a client cannot make
    // us collect by sending big bodies that are refused).
    if (stored) setImmediate(() => releaseAfterUpload(this.store.db, stored));
    const token = answer.lines[0] === 'OK' ? 'OK' : (answer.lines[1] ?? '').replace(/\(.*$/, '');
    this.metrics?.answered(
      ['auth_error', 'no_query', 'bad_request', 'too_large', 'unavailable'].includes(token) ? token : answer.lines[0],
      seconds,
    );
    return answer;
  }

  countRefused(answer: 'too_large' | 'busy'): void {
    this.metrics?.answered(answer);
  }

  countLateApplies(): void {
    for (const id of this.unapplied) if (this.store.get(id)?.status === 'applied') this.countItems(id);
  }

  private countItems(uploadId: number): void {
    this.unapplied.delete(uploadId);
    for (const r of this.store.outcomeCounts(uploadId)) this.metrics?.items(r.outcome, r.reason ?? '', r.count);
  }

  private async answer(body: Buffer, contentType: string | undefined, client: string, onStored: (items: number) => void): Promise<Answer> {
    // The parsed and decoded items live only in parseAndStore(): a local of this function would stay alive
    // across the awaits below (V8 keeps an async function's locals), up to receiver.waitMs per upload.
    const stored = await this.parseAndStore(body, contentType, client);
    if ('lines' in stored) return stored;
    const { uploadId, charset, cfg } = stored;
    onStored(stored.items);
    if (!(await enqueueApply(this.queue, uploadId))) {
      this.log.warn({ uploadId }, 'apply job not added (Redis unreachable); the sweep will enqueue it');
    }
    if (!(await waitApplied(this.store, uploadId, cfg.receiver.waitMs))) {
      if (this.metrics) this.unapplied.add(uploadId);
      this.log.warn(
        { uploadId, waitMs: cfg.receiver.waitMs },
        'answered OK before apply: the result is recorded locally only (uploads show)',
      );
      return { status: 200, lines: ['OK'], charset };
    }
    this.countItems(uploadId);
    const reported = this.store.reportedSkips(uploadId, cfg.receiver.reportAsNg);
    if (reported.length === 0) return { status: 200, lines: ['OK'], charset };
    return {
      status: 200,
      charset,
      // A code's control bytes (and "%") as %XX in the answer's charset: one item is always one line.
      lines: [
        'NG',
        ...reported.map((s) => {
          const code = escapeLineText(s.code, (c) => encode(c, charset));
          return `${answerToken(s.reason)}(product_code=${code})`;
        }),
      ],
    };
  }

  /** Parse, password, decode, store: the stored upload, or the refusal to answer. */
  private async parseAndStore(
    body: Buffer,
    contentType: string | undefined,
    client: string,
  ): Promise<Answer | { uploadId: number; items: number; charset: Charset; cfg: Config }> {
    const { cfg, shopsByUser, longestSysId, imitatedHash } = this.accounts();
    let req;
    try {
      req = readUploadRequest(body, this.parser(body, contentType), cfg.receiver.maxItems);
    } catch (err) {
      if (err instanceof FormError) return ng('STOCK_BAD_REQUEST', err.message);
      throw err;
    }
    if (req.tooMany) return ng('STOCK_TOO_LARGE');

    if (req.sysId.length > longestSysId) {
      this.log.warn({ client, sysId: preview(req.sysId) }, 'upload refused: sys_id longer than any configured');
      return ng('STOCK_AUTH_ERROR');
    }
    const shop = shopsByUser.get(req.sysId);
    if (this.lockout.isLocked(client, req.sysId)) {
      this.log.warn({ client, sysId: preview(req.sysId) }, 'upload refused: locked out');
      return ng('STOCK_AUTH_ERROR');
    }
    // Counted as a failure before the (async) check, so concurrent guesses cannot outrun the lockout;
    // a success resets it. An unknown sys_id costs one scrypt run too, so the time does not tell.
    const locked = this.lockout.fail(client, req.sysId);
    if (!(await verifyPassword(req.sysPass, shop?.zaikoRobot.password, imitatedHash)) || !shop) {
      this.log.warn({ client, sysId: preview(req.sysId), locked }, 'upload refused: wrong sys_id or sys_pass');
      return ng('STOCK_AUTH_ERROR');
    }
    this.lockout.succeed(client, req.sysId);
    if (!req.items) return ng('STOCK_NO_QUERY');

    let charset: Charset;
    let items;
    try {
      charset = chooseCharset(
        contentTypeParams(contentType).charset,
        shop.uploadCharset,
        req.items.flatMap((i) => [i.code, i.stock]),
      );
      items = req.items.map((i) => ({ code: decode(i.code, charset), rawStock: decode(i.stock, charset) }));
    } catch (err) {
      if (err instanceof CharsetError) return ng('STOCK_BAD_REQUEST', err.message);
      throw err;
    }

    let uploadId: number;
    try {
      uploadId = this.store.insert(shop.id, { source: 'http', origin: client, charset }, items);
    } catch (err) {
      this.log.error({ shop: shop.id, client, err: (err as Error).message }, 'upload could not be stored');
      return ng('STOCK_UNAVAILABLE');
    }
    this.log.info({ uploadId, shop: shop.id, client, items: items.length, charset }, 'upload stored');
    return { uploadId, items: items.length, charset, cfg };
  }
}
