// /mail (the ledger, filtered and paged), /mail/<id> (one message), its raw source, flush and resend.
import { html } from '../html.js';
import { page, cursorPager, afterParam, badge, csrfField } from '../layout.js';
import { send, redirect, audit, type Ctx } from '../context.js';
import { HttpError, type Form } from '../http.js';
import { messagesPage, messageView, flushDeferred, resendMessage, spooledMessage } from '../../queries/mail.js';
import { parseSince } from '../../queries/time.js';
import { mailQueueName } from '../../queue/names.js';
import { BridgeError } from '../../errors/codes.js';

const PAGE = 50;
const productHref = (shop: string, code: string) => `/stock/${encodeURIComponent(shop)}/${encodeURIComponent(code)}`;
const RAW_SHOWN = 256 * 1024;
const STATUSES = ['queued', 'deferred', 'sent', 'failed'];
const FORWARDS = ['queued', 'sent', 'suppressed', 'none', 'failed'];

function sinceParam(c: Ctx): number | undefined {
  try {
    return parseSince(c.url.searchParams.get('since') || undefined);
  } catch {
    return undefined;
  }
}

export async function mailList(c: Ctx): Promise<void> {
  const { w, url } = c;
  const q = (k: string) => url.searchParams.get(k) || undefined;
  const status = STATUSES.includes(q('status') ?? '') ? q('status') : undefined;
  const forward = FORWARDS.includes(q('forward') ?? '') ? q('forward') : undefined;
  const { messages: rows, next } = messagesPage(
    c.deps.ledger,
    { order: q('order'), status, forward, since: sinceParam(c), limit: PAGE },
    afterParam(c),
  );
  const select = (name: string, values: string[], current: string | undefined) =>
    html`<select name="${name}">
      <option value="">${w.t('any')}</option>
      ${values.map((v) => html`<option${current === v ? html` selected` : ''}>${v}</option>`)}
    </select>`;
  const body = html`<form class="filter" method="get" action="/mail">
      <label>${w.t('orderNumber')}<input name="order" value="${q('order') ?? ''}" size="14" /></label>
      <label>${w.t('status')}${select('status', STATUSES, status)}</label
      ><label>${w.t('forward')}${select('forward', FORWARDS, forward)}</label>
      <label>${w.t('since')}<input name="since" value="${q('since') ?? ''}" placeholder="2026-11-26 / 7d" size="12" /></label>
      <button type="submit">${w.t('filter')}</button>
    </form>
    <form method="post" action="/mail/flush" class="inline">${csrfField(c)}<button type="submit">${w.t('flush')}</button></form>
    <table>
      <tr>
        <th>${w.t('received')}</th>
        <th>ID</th>
        <th>${w.t('from')}</th>
        <th>${w.t('subject')}</th>
        <th>${w.t('shop')}</th>
        <th>${w.t('orderNumber')}</th>
        <th>${w.t('forward')}</th>
        <th>${w.t('status')}</th>
      </tr>
      ${rows.map(
        (m) =>
          html`<tr>
            <td>${w.date(m.receivedAt)}</td>
            <td><a href="/mail/${m.id}">${m.id}</a></td>
            <td>${m.from || '<>'}</td>
            <td>${m.subject}</td>
            <td>${m.shop ?? '-'}</td>
            <td>${m.orderNumber ?? '-'}</td>
            <td>${badge(m.forward)}</td>
            <td>${badge(m.status)}</td>
          </tr>`,
      )}
    </table>
    ${rows.length === 0 ? html`<p class="muted">${w.t('none')}</p>` : ''}${cursorPager(c, next)}`;
  send(c, 200, page(c, w.t('mail'), body));
}

function rawHead(c: Ctx, id: string): { text: string; size: number } | undefined {
  try {
    const message = spooledMessage(c.deps.ledger, id, c.deps.cfg.spool.keepDays);
    return { text: message.head(RAW_SHOWN).toString('utf8'), size: message.size };
  } catch {
    return undefined;
  }
}

export async function mailShow(c: Ctx): Promise<void> {
  const { w } = c;
  const v = messageView(c.deps.ledger, c.params[0]);
  if (!v) throw new HttpError(404, w.t('noSuchPage'));
  const raw = v.spool ? rawHead(c, v.id) : undefined;
  const shop = v.shop ? c.deps.cfg.shops.find((s) => s.id === v.shop) : undefined;
  const forwardable = !!(raw && shop?.forwardTo);
  const done = c.url.searchParams.get('done') === 'resent' ? html`<p class="done">${w.t('queuedAgain')}</p>` : '';
  const body = html`${done}
    <h2>${w.t('envelope')}</h2>
    <dl>
      <dt>ID</dt>
      <dd>${v.id}</dd>
      <dt>${w.t('received')}</dt>
      <dd>${w.date(v.receivedAt)}</dd>
      <dt>${w.t('from')}</dt>
      <dd>&lt;${v.from}&gt;</dd>
      <dt>${w.t('to')}</dt>
      <dd>
        ${
          v.recipients
            .filter((r) => r.kind === 'deliver')
            .map((r) => r.address)
            .join(', ') || '-'
        }
      </dd>
      <dt>${w.t('client')}</dt>
      <dd>${v.client ?? '-'} (${w.t('helo')} ${v.helo ?? '-'})</dd>
      <dt>${w.t('authUser')}</dt>
      <dd>${v.authUser ?? '-'}</dd>
      <dt>${w.t('messageId')}</dt>
      <dd>${v.messageId ?? '-'}</dd>
      <dt>${w.t('size')}</dt>
      <dd>${v.size.toLocaleString('en')} bytes</dd>
      <dt>${w.t('subject')}</dt>
      <dd>${v.subject}</dd>
    </dl>
    <h2>${w.t('classification')}</h2>
    <dl>
      <dt>${w.t('shop')}</dt>
      <dd>${v.shop ?? '-'} <span class="muted">${v.shop ? shopWhy(v.shopBy, w.lang) : w.t('shopWhyNone')}</span></dd>
      <dt>${w.t('isOrder')}</dt>
      <dd>${v.isOrder ? w.t('yes') : w.t('no')}</dd>
      <dt>${w.t('orderNumber')}</dt>
      <dd>${v.orderNumber ?? '-'}</dd>
      <dt>${w.t('items')}</dt>
      <dd>
        ${v.items.length ? v.items.map((i) => html`<a href="${productHref(v.shop ?? '', i.code)}">${i.code}</a> × ${i.quantity} `) : '-'}
      </dd>
      <dt>${w.t('flags')}</dt>
      <dd>${v.flags.join(', ') || '-'}</dd>
    </dl>
    <h2>${w.t('forwardDecision')}</h2>
    <dl>
      <dt>${w.t('forward')}</dt>
      <dd>${badge(v.forward)}</dd>
      <dt>${w.t('why')}</dt>
      <dd>${forwardWhy(v.forward, v.forwardReason, w.lang)}</dd>
    </dl>
    ${
      forwardable
        ? html`<p>
            <a class="button" href="/mail/${v.id}/resend?forward=1">${w.t('resendForward')}</a>
            <a class="button" href="/mail/${v.id}/resend">${w.t('resendDeliver')}</a>
          </p>`
        : ''
    }
    <h2>${w.t('deliveries')}</h2>
    <table>
      <tr>
        <th>${w.t('kind')}</th>
        <th>${w.t('recipient')}</th>
        <th>${w.t('status')}</th>
        <th class="num">${w.t('attempts')}</th>
        <th>${w.t('updated')}</th>
        <th>${w.t('nextAttempt')}</th>
        <th>${w.t('response')}</th>
      </tr>
      ${v.recipients.map(
        (r) =>
          html`<tr>
            <td>${r.kind}</td>
            <td>${r.address}</td>
            <td>${badge(r.status)}</td>
            <td class="num">${r.attempts}</td>
            <td>${w.date(r.updatedAt)}</td>
            <td>${w.date(r.nextAttemptAt)}</td>
            <td>${r.response ?? '-'}</td>
          </tr>`,
      )}
    </table>
    <h2>${w.t('rawSource')}</h2>
    ${
      raw
        ? html`<p>
              <a href="/mail/${v.id}/raw">${w.t('download')}</a
              >${raw.size > RAW_SHOWN ? html` <span class="muted">(${w.t('truncatedAt')} ${RAW_SHOWN} / ${raw.size} bytes)</span>` : ''}
            </p>
            <pre>${raw.text}</pre>`
        : html`<p class="muted">${w.t('spoolGone')}</p>`
    }`;
  send(c, 200, page(c, `${w.t('mail')} ${v.id}`, body));
}

/** Which trusted fact made the mail its shop's (messages.shop_by). */
function shopWhy(by: string | null | undefined, lang: string): string {
  const words: Record<string, [string, string]> = {
    auth: [
      "The cart logged in with one of this shop's SMTP users (authUsers).",
      'このショップの SMTP ユーザー (authUsers) でログインして送られました。',
    ],
    sender: ["The envelope sender is one of this shop's senders.", 'エンベロープ送信者がこのショップの senders に一致しました。'],
    client: ["It came from one of this shop's client addresses (clients).", 'このショップの送信元アドレス (clients) から届きました。'],
  };
  return words[by ?? '']?.[lang === 'ja' ? 1 : 0] ?? '';
}

/** The ledger's reason, and for the usual cases a sentence a shop understands. */
function forwardWhy(forward: string, reason: string | null, lang: string): string {
  const words: Record<string, [string, string]> = {
    sent: ["zaiko Robot's import address accepted the copy.", 'zaiko Robot の取り込みアドレスが受け取りました。'],
    queued: ['The copy is waiting to be sent.', '送信待ちです。'],
    none: [
      'Not forwarded: not an order mail of a shop with forwardTo.',
      '転送しません (forwardTo のあるショップの注文メールではありません)。',
    ],
    suppressed: ['Another mail of the same order was already forwarded (forward once).', '同じ注文の別のメールを転送済みです (1注文1回)。'],
    failed: [
      "zaiko Robot's import address refused the copy; see the answer below.",
      '取り込みアドレスが受け取りを拒否しました。下の応答を見てください。',
    ],
  };
  const text = words[forward]?.[lang === 'ja' ? 1 : 0] ?? '';
  return reason ? `${text} (${reason})` : text;
}

export async function mailRaw(c: Ctx): Promise<void> {
  const id = c.params[0];
  let message;
  try {
    message = spooledMessage(c.deps.ledger, id, c.deps.cfg.spool.keepDays);
  } catch {
    throw new HttpError(404, c.w.t('spoolGone'));
  }
  c.res.writeHead(200, {
    'content-type': 'message/rfc822',
    'content-disposition': `attachment; filename="${id}.eml"`,
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'",
  });
  const stream = message.stream();
  stream.once('error', () => c.res.destroy()); // a file removed meanwhile: the download ends short, visibly
  stream.pipe(c.res);
  await new Promise<void>((r) => stream.once('close', () => r()));
}

export async function mailFlush(c: Ctx): Promise<void> {
  const n = await flushDeferred(c.deps.queues.get(mailQueueName(c.deps.cfg.instance)), c.deps.ledger);
  audit(c, 'mail flush', { scheduled: n });
  send(
    c,
    200,
    page(
      c,
      c.w.t('flush'),
      html`<p class="done">${n} ${c.w.t('flushed')}</p>
        <p><a href="/mail">${c.w.t('back')}</a></p>`,
    ),
  );
}

export async function resendConfirm(c: Ctx): Promise<void> {
  const { w } = c;
  const v = messageView(c.deps.ledger, c.params[0]);
  if (!v) throw new HttpError(404, w.t('noSuchPage'));
  const forward = c.url.searchParams.get('forward') === '1';
  const body = html`<div class="${forward ? 'warn' : 'note'}">
      <p><strong>${forward ? w.t('confirmResend') : w.t('confirmDeliver')}</strong></p>
      ${forward ? html`<p>${w.t('confirmResendText')}</p>` : ''}
      <p>${v.id} · ${w.t('orderNumber')} ${v.orderNumber ?? '-'} · ${v.subject}</p>
    </div>
    <form method="post" action="/mail/${v.id}/resend">
      ${csrfField(c)}<input type="hidden" name="forward" value="${forward ? '1' : '0'}" />
      <button type="submit" class="${forward ? 'danger' : ''}">${w.t('confirm')}</button> <a href="/mail/${v.id}">${w.t('cancel')}</a>
    </form>`;
  send(c, 200, page(c, forward ? w.t('resendForward') : w.t('resendDeliver'), body));
}

export async function resendPost(c: Ctx, form: Form): Promise<void> {
  const forward = form.get('forward') === '1';
  const id = c.params[0];
  try {
    const { kind, to } = await resendMessage(c.deps.cfg, c.deps.queues.get(mailQueueName(c.deps.cfg.instance)), c.deps.ledger, id, forward);
    audit(c, forward ? 'mail resend --forward' : 'mail resend', { qid: id, kind, to });
    redirect(c, `/mail/${encodeURIComponent(id)}?done=resent`);
  } catch (err) {
    if (err instanceof BridgeError) throw new HttpError(err.code === 'NOT_FOUND' ? 404 : err.code === 'BAD_INPUT' ? 400 : 503, err.message);
    throw err;
  }
}
