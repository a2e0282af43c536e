// /uploads (newest first, paged, by shop) and /uploads/<id> (its items, paged by position, and the answer zaiko Robot got).
import { html } from '../html.js';
import { page, pager, badge } from '../layout.js';
import { send, pageNo, type Ctx } from '../context.js';
import { HttpError } from '../http.js';
import { listUploads, uploadView, uploadAnswer } from '../../queries/uploads.js';

const PAGE = 50;
const ITEMS_PAGE = 100;
const ANSWER_LINES = 50;

export async function uploadList(c: Ctx): Promise<void> {
  const { w } = c;
  const shop = c.url.searchParams.get('shop') || undefined;
  const n = pageNo(c);
  const rows = listUploads(c.deps.uploads, { shop, limit: PAGE + 1, offset: (n - 1) * PAGE });
  const body = html`<form class="filter" method="get" action="/uploads">
      <label
        >${w.t('shop')}<select name="shop">
          <option value="">${w.t('any')}</option>
          ${c.deps.cfg.shops.map((s) => html`<option${s.id === shop ? html` selected` : ''}>${s.id}</option>`)}
        </select></label
      ><button type="submit">${w.t('filter')}</button>
    </form>
    <table>
      <tr>
        <th>ID</th>
        <th>${w.t('received')}</th>
        <th>${w.t('shop')}</th>
        <th>${w.t('source')}</th>
        <th class="num">${w.t('items')}</th>
        <th class="num">${w.t('applied')}</th>
        <th class="num">${w.t('skipped')}</th>
        <th>${w.t('status')}</th>
      </tr>
      ${rows.slice(0, PAGE).map(
        (u) =>
          html`<tr>
            <td><a href="/uploads/${u.id}">${u.id}</a></td>
            <td>${w.date(u.receivedAt)}</td>
            <td>${u.shop}</td>
            <td>${u.source}</td>
            <td class="num">${u.items}</td>
            <td class="num">${u.applied}</td>
            <td class="num">${u.skipped}</td>
            <td>${badge(u.status)}</td>
          </tr>`,
      )}
    </table>
    ${rows.length === 0 ? html`<p class="muted">${w.t('none')}</p>` : ''}${pager(c, n, rows.length > PAGE)}`;
  send(c, 200, page(c, w.t('uploads'), body));
}

export async function uploadShow(c: Ctx): Promise<void> {
  const { w } = c;
  const id = Number(c.params[0]);
  const n = pageNo(c);
  const v = Number.isSafeInteger(id) ? uploadView(c.deps.uploads, id, { limit: ITEMS_PAGE, offset: (n - 1) * ITEMS_PAGE }) : undefined;
  if (!v) throw new HttpError(404, w.t('noSuchPage'));
  const u = v.upload;
  const answer = u.status === 'applied' ? uploadAnswer(c.deps.uploads, u.id, c.deps.cfg.receiver.reportAsNg, ANSWER_LINES) : undefined;
  const body = html`<dl>
      <dt>ID</dt>
      <dd>${u.id}</dd>
      <dt>${w.t('shop')}</dt>
      <dd>${u.shop}</dd>
      <dt>${w.t('received')}</dt>
      <dd>${w.date(u.receivedAt)}</dd>
      <dt>${w.t('source')}</dt>
      <dd>${u.source} ${u.origin ?? ''}</dd>
      <dt>${w.t('charset')}</dt>
      <dd>${u.charset}</dd>
      <dt>${w.t('status')}</dt>
      <dd>${badge(u.status)}</dd>
      <dt>${w.t('items')}</dt>
      <dd>${u.items} (${w.t('applied')} ${u.applied}, ${w.t('skipped')} ${u.skipped})</dd>
    </dl>
    <h2>${w.t('answer')}</h2>
    ${
      answer
        ? html`<pre>${answer.lines.join('\n')}${answer.more ? `\n… ${w.t('moreLines')} (${w.t('skipped')}: ${u.skipped})` : ''}</pre>`
        : html`<p class="muted">${w.t('answerPending')}</p>`
    }
    <h2>${w.t('items')}</h2>
    <table>
      <tr>
        <th class="num">#</th>
        <th>${w.t('code')}</th>
        <th>${w.t('value')}</th>
        <th>${w.t('outcome')}</th>
        <th>${w.t('reason')}</th>
      </tr>
      ${v.items.map(
        (i) =>
          html`<tr>
            <td class="num">${i.seq + 1}</td>
            <td><a href="/stock/${u.shop}/${encodeURIComponent(i.product_code)}">${i.product_code}</a></td>
            <td>${i.rawStock}</td>
            <td>${badge(i.outcome ?? 'stored')}</td>
            <td>${i.reason ? html`${i.reason} <span class="muted">${w.reason(i.reason)}</span>` : ''}</td>
          </tr>`,
      )}
    </table>
    ${pager(c, n, (n - 1) * ITEMS_PAGE + v.items.length < u.items)}`;
  send(c, 200, page(c, `${w.t('upload')} ${u.id}`, body));
}
