// /mail/check: paste or upload a mail and see what the relay would do with it (`mail check`).
import { html } from '../html.js';
import { page, csrfField } from '../layout.js';
import { send, audit, type Ctx } from '../context.js';
import type { Form } from '../http.js';
import { classify } from '../../intake/classify/classify.js';
import { CLASSIFY_LIMIT_BYTES } from '../../intake/spool/spool.js';
import { checkVerdict } from '../../queries/mail-check.js';

/** The relay looks at no more than the first CLASSIFY_LIMIT_BYTES; more is accepted so a pasted mail is not refused for its tail. */
export const CHECK_MAX_BYTES = 2 * 1024 * 1024;

function form(c: Ctx, result = html``, pasted = '', from = ''): string {
  const { w } = c;
  return page(
    c,
    w.t('check'),
    html`<p class="muted">${w.t('checkIntro')}</p>
      <form method="post" action="/mail/check" enctype="multipart/form-data">
        ${csrfField(c)}
        <label>${w.t('paste')}<textarea name="source">${pasted}</textarea></label>
        <div class="filter">
          <label>${w.t('file')}<input type="file" name="file" accept=".eml,message/rfc822" /></label>
          <label>${w.t('envelopeFrom')}<input name="from" value="${from}" size="30" /></label><button type="submit">${w.t('run')}</button>
        </div>
      </form>
      ${result}`,
  );
}

export async function checkGet(c: Ctx): Promise<void> {
  send(c, 200, form(c));
}

export async function checkPost(c: Ctx, f: Form): Promise<void> {
  const { w, deps } = c;
  const file = await f.file('file');
  const pasted = f.get('source') ?? '';
  const bytes = file ?? Buffer.from(pasted.replace(/\r?\n/g, '\r\n'), 'utf8');
  const from = (f.get('from') ?? '').trim().slice(0, 320);
  const head = bytes.subarray(0, CLASSIFY_LIMIT_BYTES);
  // As `mail check`: without an envelope sender, the cart is assumed to send with its From.
  const envelopeFrom = from || ((await classify(head, deps.cfg.shops, { envelopeFrom: '' })).headerFrom ?? '');
  const cl = await classify(head, deps.cfg.shops, { envelopeFrom });
  const v = checkVerdict(cl, deps.ledgerDb, deps.stockDb);
  audit(c, 'mail check', { bytes: bytes.length, shop: v.shop, orderNumber: v.orderNumber });
  const result = html`<h2>${w.t('verdict')}</h2>
    <dl>
      <dt>${w.t('shop')}</dt>
      <dd>${v.shop ?? '-'}</dd>
      <dt>${w.t('subject')}</dt>
      <dd>${cl.subject}</dd>
      <dt>${w.t('isOrder')}</dt>
      <dd>${v.isOrder ? w.t('yes') : w.t('no')}</dd>
      <dt>${w.t('orderNumber')}</dt>
      <dd>${v.orderNumber ?? '-'}</dd>
      <dt>${w.t('wouldForward')}</dt>
      <dd>${v.wouldForward ? w.t('yes') : w.t('no')}</dd>
      <dt>${w.t('why')}</dt>
      <dd>${v.reason}</dd>
    </dl>
    <table>
      <tr>
        <th>${w.t('code')}</th>
        <th class="num">${w.t('quantity')}</th>
        <th>${w.t('known')}</th>
      </tr>
      ${v.items.map(
        (i) =>
          html`<tr>
            <td>${i.code}</td>
            <td class="num">${i.quantity}</td>
            <td>
              ${
                !i.known
                  ? html`<span class="b failed">${w.t('no')}</span> ${w.reason('unknown_code')}`
                  : i.variantProduct
                    ? html`<span class="b failed">${w.t('variantProduct')}</span> ${w.t('variantTemplate')}`
                    : w.t('yes')
              }
            </td>
          </tr>`,
      )}
    </table>`;
  send(c, 200, form(c, result, file ? '' : pasted.slice(0, 200_000), from));
}
