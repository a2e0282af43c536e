// The accept pipeline shared by SMTP DATA and locally made mail (DSNs): spool (a small message's
// bytes wait for the commit; a larger one's file is fdatasynced), classify, ledger row (with a small
// message's bytes) + forward-once claim in one group-committed transaction (WAL fsynced). Returns the
// queue id only once the message is durable; any failure before the ledger commit leaves nothing
// behind. The jobs come after (accepted-jobs.ts), handed to the delivery thread where there is one.
import type { Readable } from 'node:stream';
import type { Queue } from 'bullmq';
import type { Config } from '../config/schema.js';
import { configOf, type ConfigHolder } from '../config/holder.js';
import type { Logger } from '../observe/logger.js';
import type { LedgerStore, NewMessage, AcceptResult } from '../ledger/store.js';
import { GroupCommit } from '../ledger/group-commit.js';
import type { WalSync } from '../ledger/wal-sync.js';
import type { MailJobData, OrderJobData } from '../queue/names.js';
import { AcceptedJobs, type AcceptedMessage } from './accepted-jobs.js';
import { orderJob } from './stock-decrement.js';
import { Spool, LOOP_RECEIVED_COUNT } from './spool/spool.js';
import { newQueueId } from './spool/queue-id.js';
import { classify, forwardClaim } from './classify/classify.js';
import { BridgeError } from '../errors/codes.js';
import type { Metrics } from '../observe/metrics.js';

export interface Envelope {
  mailFrom: string;
  rcptTo: string[];
}
export interface Session {
  clientAddress: string;
  clientHostname?: string;
  helo: string;
  authUser?: string;
  secure: boolean;
  authenticated: boolean;
}

export class LoopError extends Error {}
export class TooBigError extends Error {}

function receivedHeader(hostname: string, qid: string, env: Envelope, s: Session, now: Date): string {
  const proto = `ESMTP${s.secure ? 'S' : ''}${s.authenticated ? 'A' : ''}`;
  const forPart = env.rcptTo.length === 1 ? `\r\n\tfor <${env.rcptTo[0]}>` : '';
  const name = s.clientHostname && s.clientHostname !== `[${s.clientAddress}]` ? `${s.clientHostname} ` : '';
  return (
    `Received: from ${s.helo || 'unknown'} (${name}[${s.clientAddress}])\r\n` +
    `\tby ${hostname} (zaiko-bridge) with ${proto} id ${qid}${forPart};\r\n\t${now.toUTCString().replace('GMT', '+0000')}\r\n`
  );
}

export class Acceptor {
  private readonly commits: GroupCommit<NewMessage, AcceptResult>;
  /** Made on the first message the hand-off refuses: where the hand-off always takes, there is one AcceptedJobs, the taker's. */
  private jobs?: AcceptedJobs;

  constructor(
    private readonly config: Config | ConfigHolder,
    private readonly spool: Spool,
    private readonly ledger: LedgerStore,
    private readonly queue: Queue<MailJobData>,
    private readonly log: Logger,
    walSync: WalSync,
    private readonly metrics?: Metrics,
    /** The stock queue, for order mails that lower stock.db (shops[].decrementOnOrder); none: the sweep adds them. */
    private readonly stockQueue?: Queue<OrderJobData>,
    /** Hands a message's jobs to another thread (the relay's delivery thread); false: added here. */
    private readonly handOff?: (m: AcceptedMessage) => boolean,
  ) {
    // One WAL fsync per group (and a spool-directory fsync when the group created files): the rows, the
    // small messages' bytes and the files' names are durable before any message of the group is answered 250.
    this.commits = new GroupCommit(
      (messages) => ledger.acceptMany(messages),
      async () => {
        await Promise.all([walSync.sync(), spool.syncDir()]);
      },
    );
  }

  /**
   * Resolves to the queue id once durable. Rejects with TooBigError / LoopError (message refused) or
   * BridgeError RELAY_NOT_STORED (disk or ledger failure). `maxBytes` (SMTP DATA: relay.maxMessageBytes;
   * locally made mail has none) is enforced while the bytes arrive: the spool stops writing past it.
   * `cfg`: the config the SMTP session started with (else the current one).
   */
  async accept(stream: Readable, env: Envelope, session: Session, maxBytes = Infinity, cfg = configOf(this.config)): Promise<string> {
    const now = new Date();
    const qid = newQueueId(now.getTime());
    const timer = this.metrics?.acceptSeconds.startTimer();
    let spooled;
    try {
      const header = receivedHeader(cfg.relay.hostname, qid, env, session, now);
      spooled = await this.spool.write(qid, header, stream, maxBytes);
    } catch (err) {
      this.log.error({ qid, err: (err as Error).message }, 'spool write failed');
      throw new BridgeError('RELAY_NOT_STORED', 'spool write failed', { cause: err });
    }
    const refused = spooled.tooBig ? new TooBigError() : spooled.received >= LOOP_RECEIVED_COUNT ? new LoopError() : null;
    if (refused) {
      await spooled.durable.catch(() => {});
      await this.spool.remove(qid);
      throw refused;
    }
    try {
      // Classification needs only the head in memory: it runs while the file's fdatasync does.
      const durable = spooled.durable.catch((err: Error) => {
        throw new BridgeError('RELAY_NOT_STORED', `spool fsync failed: ${err.message}`, { cause: err });
      });
      const facts = { envelopeFrom: env.mailFrom, authUser: session.authUser, client: session.clientAddress };
      const [c] = await Promise.all([classify(spooled.head, cfg.shops, facts), durable]);
      const shop = c.shop;
      const forwardTo = shop?.forwardTo && c.isOrder ? shop.forwardTo : null;
      const decrement = shop && c.isOrder && shop.decrementOnOrder && c.items.length > 0;
      if (c.isOrder && c.items.length === 0)
        this.log.warn(
          { qid, shop: shop?.id, subject: c.subject },
          'order mail with no item found: check orderMail.item rules (mail check)',
        );
      if (c.flags.includes('unreadable'))
        this.log.warn(
          { qid, shop: shop?.id },
          'mail beyond what classification reads (MIME parts, header size or structure): delivered, not forwarded',
        );
      const accepted = this.commits.submit({
        id: qid,
        receivedAt: now.getTime(),
        clientAddress: session.clientAddress,
        clientHelo: session.helo,
        authUser: session.authUser ?? null,
        mailFrom: env.mailFrom,
        headerFrom: c.headerFrom ?? null,
        subject: c.subject,
        messageId: c.messageId ?? null,
        size: spooled.size,
        ...spooled.location, // a spool file's path, or the bytes of a small message: stored in this commit
        shopId: shop?.id ?? null,
        shopBy: c.shopBy ?? null,
        isOrder: c.isOrder,
        orderNumber: c.orderNumber ?? null,
        items: c.items,
        flags: c.flags,
        deliverTo: env.rcptTo,
        forwardTo,
        claim: shop && forwardTo ? forwardClaim(shop, c, qid) : null,
        stockJob: decrement ? 'pending' : null,
      });
      const { forward, reason } = await accepted; // committed and fsynced: now we may say 250
      // The jobs after it: the message is durable, and the sweep adds what is lost between.
      const after: AcceptedMessage = {
        qid,
        deliver: env.rcptTo.length > 0,
        forward: forward === 'queued',
        order: decrement
          ? orderJob({
              qid,
              shop: shop.id,
              orderNumber: c.orderNumber ?? null,
              messageId: c.messageId ?? null,
              acceptedAt: now.getTime(),
              items: c.items,
            })
          : undefined,
      };
      if (!this.handOff?.(after)) this.ownJobs().add(after);
      this.log.info(
        {
          qid,
          from: env.mailFrom,
          nrcpt: env.rcptTo.length,
          size: spooled.size,
          client: session.clientAddress,
          shop: shop?.id,
          shopBy: c.shopBy,
          order: c.orderNumber,
          forward,
          reason,
          messageId: c.messageId,
        },
        `${qid}: from=<${env.mailFrom}> size=${spooled.size} nrcpt=${env.rcptTo.length} forward=${forward}`,
      );
      this.metrics?.messagesAccepted.inc();
      if (forward === 'suppressed') this.metrics?.forwardsSuppressed.inc();
      timer?.();
      return qid;
    } catch (err) {
      if (this.ledger.message(qid)) throw err; // durable already; should not happen past the ledger commit
      await this.spool.remove(qid);
      this.log.error(
        { qid, err: (err as Error).message },
        'message not stored (spool fsync, classification or ledger failed); refused with 451',
      );
      throw new BridgeError('RELAY_NOT_STORED', 'message not stored', { cause: err });
    }
  }

  private ownJobs(): AcceptedJobs {
    this.jobs ??= new AcceptedJobs(
      this.ledger,
      this.queue,
      configOf(this.config).instance,
      () => configOf(this.config),
      this.log,
      this.stockQueue,
      () => this.metrics?.forwardsSuppressed.inc(),
    );
    return this.jobs;
  }
}
