// `mail list|show|flush|resend|check`: the ledger, as mailq / postcat / postqueue -f would show it.
import type { Command } from 'commander';
import { existsSync, openSync, readSync, closeSync } from 'node:fs';
import { openDb } from '../db/open.js';
import { BridgeError } from '../errors/codes.js';
import { LedgerStore } from '../ledger/store.js';
import { mailQueueName } from '../queue/names.js';
import { listMessages, messageView, spooledMessage, spoolGone, flushDeferred, resendMessage } from '../queries/mail.js';
import { context, connectCli, printJson, printTable, pageOptions, morePages } from './context.js';
import { oneOf, since } from './options.js';

const MAIL_STATUSES = ['queued', 'deferred', 'sent', 'failed'] as const;

/** Undefined when the file starts like a mail (header fields up to a blank line), else what is wrong. */
function notAMail(file: string): string | undefined {
  const buf = Buffer.alloc(64 * 1024);
  const fd = openSync(file, 'r');
  let n: number;
  try {
    n = readSync(fd, buf, 0, buf.length, 0);
  } finally {
    closeSync(fd);
  }
  if (n === 0) return 'the file is empty';
  const head = buf.subarray(0, n).toString('latin1');
  const end = head.search(/\r?\n\r?\n/);
  const lines = (end === -1 ? head : head.slice(0, end)).split(/\r?\n/);
  if (end === -1 && n === buf.length) lines.pop(); // a header cut by the 64 KiB read
  const bad = lines.findIndex((l, i) => !(/^[!-9;-~]+:/.test(l) || (i > 0 && /^[ \t]/.test(l))));
  if (bad !== -1) return `line ${bad + 1} is not a header field`;
  const names = new Set(lines.map((l) => /^([!-9;-~]+):/.exec(l)?.[1].toLowerCase()).filter(Boolean));
  if (!['from', 'to', 'subject', 'date', 'message-id'].some((h) => names.has(h))) return 'no From, To, Subject, Date or Message-ID header';
  return undefined;
}

/** The mail queue of flush and resend. BullMQ is loaded here, not at start-up: list, show and check do without it. */
async function mailQueue(cmd: Command) {
  const { config } = context(cmd);
  const [{ Queue }, { closeQueue, closeRedis }] = await Promise.all([import('bullmq'), import('../queue/redis.js')]);
  const connection = await connectCli(config);
  const queue = new Queue(mailQueueName(config.instance), { connection, prefix: config.redis.prefix });
  const close = async () => {
    await closeQueue(queue);
    await closeRedis(connection);
  };
  return { config, queue, close };
}

export function registerMail(program: Command): void {
  const mail = program.command('mail').description('the mail ledger (works with Redis down, except flush and resend)');

  pageOptions(mail.command('list').description('messages, newest first (like mailq, with history)'), 100)
    .option('--since <when>', 'a date or an age (2h, 7d)', since())
    .option('--order <number>', 'only this order number')
    .option('--status <status>', MAIL_STATUSES.join(', '), oneOf('--status', MAIL_STATUSES))
    .option('--json', 'JSON output')
    .action((o: { since?: number; order?: string; status?: string; limit: number; offset: number; json?: boolean }, cmd: Command) => {
      const { config } = context(cmd);
      const db = openDb(config.dataDir, 'ledger');
      const messages = listMessages(new LedgerStore(db), {
        since: o.since,
        order: o.order,
        status: o.status,
        limit: o.limit,
        offset: o.offset,
      });
      db.close();
      if (o.json) return printJson({ messages });
      printTable(
        ['id', 'received', 'from', 'to', 'order', 'forward', 'status'],
        messages.map((m) => [m.id, m.receivedAt, m.from || '<>', m.to.join(','), m.orderNumber, m.forward, m.status]),
        'no messages',
      );
      morePages(messages.length, o);
    });

  pageOptions(
    mail.command('show').description('one message: envelope, classification, every recipient outcome (--raw: the spooled bytes)'),
    1000,
  )
    .argument('<id>', 'queue id')
    .option('--raw', 'print the spooled message as it will be sent')
    .option('--json', 'JSON output')
    .action((id: string, o: { raw?: boolean; json?: boolean; limit: number; offset: number }, cmd: Command) => {
      const { config } = context(cmd);
      const db = openDb(config.dataDir, 'ledger');
      const ledger = new LedgerStore(db);
      if (o.raw) {
        let raw: Buffer;
        try {
          raw = spooledMessage(ledger, id, config.spool.keepDays).bytes();
        } finally {
          db.close();
        }
        process.stdout.write(raw);
        return;
      }
      const view = messageView(ledger, id, o);
      db.close();
      if (!view) throw new BridgeError('NOT_FOUND', `no message ${id} in the ledger`);
      if (o.json) return printJson(view);
      process.stdout.write(
        `${view.id}  received ${view.receivedAt}  from <${view.from}>  client ${view.client} (${view.helo})  ` + `${view.size} bytes\n`,
      );
      const shop = view.shop ? `${view.shop} (by ${view.shopBy})` : '-';
      process.stdout.write(
        `subject: ${view.subject}\nshop: ${shop}  order mail: ${view.isOrder ? 'yes' : 'no'}  ` +
          `order number: ${view.orderNumber ?? '-'}  flags: ${view.flags.join(', ') || '-'}\n`,
      );
      process.stdout.write(
        `items: ${view.items.map((i: any) => `${i.code}×${i.quantity}`).join(', ') || '-'}\n` +
          `forward: ${view.forward}${view.forwardReason ? ` (${view.forwardReason})` : ''}\n`,
      );
      process.stdout.write(`spool: ${view.spool ?? spoolGone(config.spool.keepDays)}\n\n`);
      printTable(
        ['kind', 'recipient', 'status', 'tries', 'next', 'response'],
        view.recipients.map((r) => [r.kind, r.address, r.status, r.attempts, r.nextAttemptAt, r.response]),
        'no recipients',
      );
    });

  mail
    .command('check')
    .description('what the relay would do with a mail: shop, order?, number, items, forward verdict (after editing the cart template)')
    .argument('<file>', '.eml file')
    .option('--from <address>', 'envelope sender (default: the From header)')
    .option('--auth-user <name>', 'SMTP AUTH user the cart logs in as')
    .option('--client <address>', "the cart's address (needed when shops[].clients is set)")
    .option('--json', 'JSON output')
    .action(async (file: string, o: { from?: string; authUser?: string; client?: string; json?: boolean }, cmd: Command) => {
      const { config } = context(cmd);
      // The classifier (mailparser) is loaded by this command only.
      const [{ classifyFile }, { checkVerdict }] = await Promise.all([
        import('../intake/classify/classify.js'),
        import('../queries/mail-check.js'),
      ]);
      if (!existsSync(file)) throw new BridgeError('BAD_INPUT', `${file}: no such file`);
      const notMail = notAMail(file);
      if (notMail) throw new BridgeError('BAD_INPUT', `${file}: not a mail (${notMail}); give the .eml file of a message, headers first`);
      const facts = { envelopeFrom: o.from ?? '', authUser: o.authUser, client: o.client };
      // Without --from, the cart is assumed to send with its From as envelope sender.
      if (o.from === undefined) facts.envelopeFrom = (await classifyFile(file, config.shops, facts)).headerFrom ?? '';
      const c = await classifyFile(file, config.shops, facts);
      const stockDb = openDb(config.dataDir, 'stock');
      const ledgerDb = openDb(config.dataDir, 'ledger');
      let result;
      try {
        result = checkVerdict(c, ledgerDb, stockDb);
      } finally {
        stockDb.close();
        ledgerDb.close();
      }
      const { items, reason } = result;
      if (o.json) return printJson(result);
      process.stdout.write(
        `shop: ${c.shopWhy}\nsubject: ${c.subject}\norder mail: ${c.isOrder ? 'yes' : 'no'}\n` +
          `order number: ${result.orderNumber ?? '-'}\n`,
      );
      printTable(
        ['code', 'quantity', 'known'],
        items.map((i) => [i.code, i.quantity, !i.known ? 'NO: not in products' : i.variantProduct ? 'a product with variants' : 'yes']),
        'no items found',
      );
      process.stdout.write(`verdict: ${reason}\n`);
    });

  mail
    .command('flush')
    .description('retry every deferred delivery now (postqueue -f)')
    .action(async (_o, cmd: Command) => {
      const { config, queue, close } = await mailQueue(cmd);
      const db = openDb(config.dataDir, 'ledger');
      try {
        const n = await flushDeferred(queue, new LedgerStore(db));
        process.stdout.write(`${n} deferred job(s) scheduled now\n`);
      } finally {
        db.close();
        await close();
      }
    });

  mail
    .command('resend')
    .description("deliver again on purpose with a fresh job id (a forward takes the order's forward-once claim again, or is refused)")
    .argument('<id>', 'queue id')
    .option('--forward', "send the copy to the shop's zaiko Robot address again (zaiko Robot will count the order again)")
    .action(async (id: string, o: { forward?: boolean }, cmd: Command) => {
      const { config, queue, close } = await mailQueue(cmd);
      const db = openDb(config.dataDir, 'ledger');
      try {
        const { kind, to } = await resendMessage(config, queue, new LedgerStore(db), id, !!o.forward);
        if (o.forward)
          process.stderr.write('note: if an earlier forward of this message reached zaiko Robot, it counts this order again\n');
        process.stdout.write(`${id}: ${kind} to ${to.join(', ')} queued again\n`);
      } finally {
        db.close();
        await close();
      }
    });
}
