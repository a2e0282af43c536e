// `mail list|show|flush|resend|check`: the ledger, as mailq / postcat / postqueue -f would show it.
import type { Command } from 'commander';
import { readFileSync, existsSync } from 'node:fs';
import { Queue, Job } from 'bullmq';
import { openDb } from '../db/open.js';
import { BridgeError } from '../errors/codes.js';
import { LedgerStore, type MessageRow } from '../ledger/store.js';
import { classifyFile, forwardClaim } from '../relay/classify/classify.js';
import { connectOrFail, redisUrl } from '../queue/redis.js';
import { mailQueueName, mailJobId, type MailJobKind } from '../queue/names.js';
import { enqueueMail } from '../delivery/enqueue.js';
import { context, printJson, printTable, parseSince, iso } from './context.js';

const messageJson = (m: MessageRow & { status?: string; to?: string }) => ({
  id: m.id, receivedAt: iso(m.received_at), from: m.mail_from, to: m.to ? m.to.split(', ') : [], subject: m.subject, shop: m.shop_id,
  isOrder: !!m.is_order, orderNumber: m.order_number, forward: m.forward, status: m.status,
});

async function mailQueue(cmd: Command) {
  const { config } = context(cmd);
  const connection = await connectOrFail(redisUrl(config));
  return { config, queue: new Queue(mailQueueName(config.instance), { connection }), connection };
}

export function registerMail(program: Command): void {
  const mail = program.command('mail').description('the mail ledger (works with Redis down, except flush and resend)');

  mail.command('list').description('messages, newest first (like mailq, with history)')
    .option('--since <when>', 'a date or an age (2h, 7d)').option('--order <number>', 'only this order number')
    .option('--status <status>', 'queued, deferred, sent or failed').option('--limit <n>', 'at most n', '100').option('--json', 'JSON output')
    .action((o: { since?: string; order?: string; status?: string; limit: string; json?: boolean }, cmd: Command) => {
      const { config } = context(cmd);
      const db = openDb(config.dataDir, 'ledger');
      const messages = new LedgerStore(db).list({ since: parseSince(o.since), order: o.order, status: o.status, limit: Number(o.limit) }).map(messageJson);
      db.close();
      if (o.json) return printJson({ messages });
      printTable(['id', 'received', 'from', 'to', 'order', 'forward', 'status'],
        messages.map((m) => [m.id, m.receivedAt, m.from || '<>', m.to.join(','), m.orderNumber, m.forward, m.status]));
    });

  mail.command('show').description('one message: envelope, classification, every recipient outcome (--raw: the spooled bytes)')
    .argument('<id>', 'queue id').option('--raw', 'print the spooled message as it will be sent').option('--json', 'JSON output')
    .action((id: string, o: { raw?: boolean; json?: boolean }, cmd: Command) => {
      const { config } = context(cmd);
      const db = openDb(config.dataDir, 'ledger');
      const ledger = new LedgerStore(db);
      const m = ledger.message(id);
      if (!m) { db.close(); throw new BridgeError('NOT_FOUND', `no message ${id} in the ledger`); }
      const recipients = ledger.recipients(id);
      db.close();
      if (o.raw) {
        if (!existsSync(m.spool_path)) throw new BridgeError('NOT_FOUND', `${id}: spool file removed (spool.keepDays=${config.spool.keepDays})`);
        process.stdout.write(readFileSync(m.spool_path));
        return;
      }
      const view = {
        ...messageJson(m), messageId: m.message_id, client: m.client_address, helo: m.client_helo, authUser: m.auth_user, size: m.size,
        spool: m.spool_removed ? null : m.spool_path, items: JSON.parse(m.items ?? '[]'), flags: JSON.parse(m.flags ?? '[]'), forwardReason: m.forward_reason,
        recipients: recipients.map((r) => ({ kind: r.kind, address: r.address, status: r.status, attempts: r.attempts, response: r.response, updatedAt: iso(r.updated_at), nextAttemptAt: iso(r.next_attempt_at) })),
      };
      if (o.json) return printJson(view);
      process.stdout.write(`${view.id}  received ${view.receivedAt}  from <${view.from}>  client ${view.client} (${view.helo})  ${view.size} bytes\n`);
      process.stdout.write(`subject: ${view.subject}\nshop: ${view.shop ?? '-'}  order mail: ${view.isOrder ? 'yes' : 'no'}  order number: ${view.orderNumber ?? '-'}  flags: ${view.flags.join(', ') || '-'}\n`);
      process.stdout.write(`items: ${view.items.map((i: any) => `${i.code}×${i.quantity}`).join(', ') || '-'}\nforward: ${view.forward}${view.forwardReason ? ` (${view.forwardReason})` : ''}\n\n`);
      printTable(['kind', 'recipient', 'status', 'tries', 'next', 'response'], view.recipients.map((r) => [r.kind, r.address, r.status, r.attempts, r.nextAttemptAt, r.response]));
    });

  mail.command('check').description('what the relay would do with a mail: shop, order?, number, items, forward verdict (after editing the cart template)')
    .argument('<file>', '.eml file').option('--from <address>', 'envelope sender (default: the From header)').option('--json', 'JSON output')
    .action(async (file: string, o: { from?: string; json?: boolean }, cmd: Command) => {
      const { config } = context(cmd);
      if (!existsSync(file)) throw new BridgeError('BAD_INPUT', `${file}: no such file`);
      const c = await classifyFile(file, config.shops, o.from ?? '', undefined);
      const stockDb = openDb(config.dataDir, 'stock');
      const known = stockDb.prepare('SELECT 1 FROM products WHERE shop_id = ? AND code = ?');
      const items = c.items.map((i) => ({ ...i, known: !!(c.shop && known.get(c.shop.id, i.code)) }));
      stockDb.close();
      let wouldForward = false;
      let reason: string;
      if (!c.shop) reason = 'no shop recognises this sender (shops[].senders / authUsers)';
      else if (!c.isOrder) reason = `subject does not match orderMail.subject ${JSON.stringify(c.shop.orderMail.subject)}`;
      else if (!c.shop.forwardTo) reason = 'shop has no forwardTo';
      else {
        const claim = forwardClaim(c.shop, c, 'check');
        const db = openDb(config.dataDir, 'ledger');
        const holder = claim && db.prepare('SELECT message_id FROM forward_claims WHERE shop_id = ? AND claim = ?').pluck().get(c.shop.id, claim);
        db.close();
        wouldForward = !holder;
        reason = holder ? `forward-once: ${claim} already forwarded with ${holder}` : `would forward to ${c.shop.forwardTo}${claim ? ` (claim ${claim})` : ' (forwardOnce: off)'}`;
      }
      if (c.flags.length) reason += `; flags: ${c.flags.join(', ')}`;
      const result = { shop: c.shop?.id ?? null, isOrder: c.isOrder, orderNumber: c.orderNumber ?? null, items, wouldForward, reason };
      if (o.json) return printJson(result);
      process.stdout.write(`shop: ${result.shop ?? '-'}\nsubject: ${c.subject}\norder mail: ${c.isOrder ? 'yes' : 'no'}\norder number: ${result.orderNumber ?? '-'}\n`);
      printTable(['code', 'quantity', 'known'], items.map((i) => [i.code, i.quantity, i.known ? 'yes' : 'NO: not in products']));
      process.stdout.write(`verdict: ${reason}\n`);
    });

  mail.command('flush').description('retry every deferred delivery now (postqueue -f)')
    .action(async (_o, cmd: Command) => {
      const { config, queue, connection } = await mailQueue(cmd);
      const db = openDb(config.dataDir, 'ledger');
      let n = 0;
      try {
        for (const { id, kind } of new LedgerStore(db).deferredIds()) {
          const job = await Job.fromId(queue, mailJobId(id, kind));
          if (job && (await job.isDelayed())) { await job.promote(); n++; }
          else if (!job && (await enqueueMail(queue, id, [kind], 3000))) n++;
        }
        process.stdout.write(`${n} deferred job(s) scheduled now\n`);
      } finally { db.close(); await queue.close(); connection.disconnect(); }
    });

  mail.command('resend').description('deliver again on purpose with a fresh job id (bypasses forward-once!)')
    .argument('<id>', 'queue id').option('--forward', 'send the copy to the shop\'s zaiko Robot address again (zaiko Robot will count the order again)')
    .action(async (id: string, o: { forward?: boolean }, cmd: Command) => {
      const { config, queue, connection } = await mailQueue(cmd);
      const db = openDb(config.dataDir, 'ledger');
      try {
        const ledger = new LedgerStore(db);
        const m = ledger.message(id);
        if (!m) throw new BridgeError('NOT_FOUND', `no message ${id} in the ledger`);
        if (!existsSync(m.spool_path)) throw new BridgeError('NOT_FOUND', `${id}: spool file removed (spool.keepDays=${config.spool.keepDays}); nothing to resend`);
        const kind: MailJobKind = o.forward ? 'forward' : 'deliver';
        const shop = config.shops.find((s) => s.id === m.shop_id);
        const to = o.forward ? (shop?.forwardTo ? [shop.forwardTo] : []) : ledger.recipients(id, 'deliver').map((r) => r.address);
        if (to.length === 0) throw new BridgeError('BAD_INPUT', `${id}: no ${kind} recipients${o.forward ? ' (the shop has no forwardTo)' : ''}`);
        ledger.requeue(id, kind, to);
        const attempt = Date.now().toString(36);
        if (!(await enqueueMail(queue, id, [kind], 3000, (q, k) => `${mailJobId(q, k)}-r${attempt}`))) throw new BridgeError('REDIS_UNAVAILABLE', 'could not add the job');
        if (o.forward) process.stderr.write('note: this bypasses forward-once: zaiko Robot counts this order again\n');
        process.stdout.write(`${id}: ${kind} to ${to.join(', ')} queued again\n`);
      } finally { db.close(); await queue.close(); connection.disconnect(); }
    });
}
