// Delivery status notifications (RFC 3464) for permanent failures, when delivery.bounces is on:
// from <> to the envelope sender, never for a message whose sender is <>. The DSN goes through the
// same accept pipeline, so it is spooled, recorded and retried like any other message.
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { configOf, type ConfigHolder } from '../config/holder.js';
import type { Logger } from '../observe/logger.js';
import type { DeliveryRow } from '../ledger/store.js';
import type { Acceptor } from '../intake/accept.js';
import type { StoredMessage } from '../intake/spool/stored-message.js';

const HEADER_LIMIT_BYTES = 64 * 1024;

function buildDsn(
  hostname: string,
  msg: DeliveryRow,
  failed: { address: string; response: string }[],
  originalHeaders: string,
  now = new Date(),
): string {
  const boundary = `dsn-${randomBytes(8).toString('hex')}`;
  const date = now.toUTCString().replace('GMT', '+0000');
  const perRecipient = failed
    .map((f) => {
      const status = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(f.response)?.[1] ?? '5.0.0';
      return `Final-Recipient: rfc822; ${f.address}\r\nAction: failed\r\nStatus: ${status}\r\nDiagnostic-Code: smtp; ${f.response.replace(/\r?\n/g, ' ')}\r\n`;
    })
    .join('\r\n');
  return [
    `From: Mail Delivery System <MAILER-DAEMON@${hostname}>`,
    `To: <${msg.mail_from}>`,
    'Subject: Undelivered Mail Returned to Sender',
    `Date: ${date}`,
    `Message-ID: <${msg.id}.dsn.${randomBytes(4).toString('hex')}@${hostname}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    `This is the mail system at ${hostname}. Your message (queue id ${msg.id}) could not be delivered to:`,
    ...failed.map((f) => `  <${f.address}>: ${f.response.replace(/\r?\n/g, ' ')}`),
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    `Reporting-MTA: dns; ${hostname}`,
    `X-Postfix-Queue-ID: ${msg.id}`,
    `Arrival-Date: ${new Date(msg.received_at).toUTCString().replace('GMT', '+0000')}`,
    '',
    perRecipient,
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    originalHeaders.trimEnd(),
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

export class Bouncer {
  constructor(
    private readonly config: Config | ConfigHolder,
    private readonly acceptor: () => Promise<Acceptor>,
    private readonly log: Logger,
  ) {}

  private get cfg(): Config {
    return configOf(this.config); // read once per bounce (bounce() takes no await before it uses it)
  }

  /** `original`: the failed message's bytes, for its headers (undefined when the spool no longer has them). */
  async bounce(msg: DeliveryRow, failed: { address: string; response: string }[], original?: StoredMessage): Promise<void> {
    if (!this.cfg.delivery.bounces || msg.mail_from === '') return;
    let headers = '';
    try {
      const head = original ? original.head(HEADER_LIMIT_BYTES).toString('latin1') : '';
      const end = head.search(/\r?\n\r?\n/);
      headers = end >= 0 ? head.slice(0, end) : head;
    } catch {
      /* spool file gone meanwhile: a DSN without the original headers */
    }
    const dsn = buildDsn(this.cfg.relay.hostname, msg, failed, headers);
    try {
      const qid = await (
        await this.acceptor()
      ).accept(
        Readable.from([Buffer.from(dsn, 'latin1')]),
        { mailFrom: '', rcptTo: [msg.mail_from] },
        { clientAddress: '127.0.0.1', helo: 'localhost', secure: false, authenticated: false },
      );
      this.log.info({ qid: msg.id, dsn: qid, to: msg.mail_from }, `${msg.id}: sender non-delivery notification: ${qid}`);
    } catch (err) {
      this.log.error({ qid: msg.id, err: (err as Error).message }, 'could not queue a DSN');
    }
  }
}
