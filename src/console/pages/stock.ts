// /stock (search by code, recent skips by reason, catalog import/export) and /stock/<shop>/<code>
// (a product's stock, its last changes and its skips in words a shop understands).
import { html } from '../html.js';
import { page, cursorPager, afterParam, badge, csrfField } from '../layout.js';
import { send, audit, type Ctx } from '../context.js';
import { HttpError, type Form } from '../http.js';
import { listSkips, skipsPage, stockView } from '../../queries/uploads.js';
import { searchProducts, unknownCodes } from '../../queries/stock.js';
import { parseCatalog, importCatalog, exportCatalog, CatalogError, type ChangeView } from '../../stock/catalog.js';
import type { Words } from '../i18n.js';
import { encode } from '../../stock/csv.js';
import { SKIP_REASONS } from '../../errors/skip-reasons.js';

const PAGE = 50;
export const CATALOG_MAX_BYTES = 32 * 1024 * 1024;

const productHref = (shop: string, code: string) => `/stock/${encodeURIComponent(shop)}/${encodeURIComponent(code)}`;

/** Where a change came from, linked: the upload, or the order mail (by its queue id when known, else the order search). */
function changeSource(w: Words, ch: ChangeView) {
  if (ch.source === 'upload') return html`${w.t('upload')} <a href="/uploads/${ch.uploadId}">${ch.uploadId}</a>`;
  if (ch.source === 'import') return html`${w.t('importSource')}`;
  const href = ch.orderMail ? `/mail/${encodeURIComponent(ch.orderMail)}` : `/mail?order=${encodeURIComponent(ch.orderNumber ?? '')}`;
  return html`${w.t('orderMailSource')} <a href="${href}">${ch.orderNumber ?? ch.orderMail ?? '-'}</a>`;
}

/** Where a skipped item came from: the upload, or the order mail (linked as changeSource links it). */
function skipSource(w: Words, s: { uploadId: number | null; orderNumber: string | null; orderMail: string | null }) {
  if (s.uploadId !== null) return html`${w.t('upload')} <a href="/uploads/${s.uploadId}">${s.uploadId}</a>`;
  const href = s.orderMail ? `/mail/${encodeURIComponent(s.orderMail)}` : `/mail?order=${encodeURIComponent(s.orderNumber ?? '')}`;
  return html`${w.t('orderMailSource')} <a href="${href}">${s.orderNumber ?? '-'}</a>`;
}

/** An upload skip's value as sent; an order mail skip's quantity sold (×n). */
const skipValue = (s: { rawStock: string | null; quantity: number | null }) => s.rawStock ?? `×${s.quantity}`;

export async function stockSearch(c: Ctx): Promise<void> {
  const { w, deps } = c;
  const code = (c.url.searchParams.get('code') ?? '').slice(0, 200);
  const reason = (SKIP_REASONS as readonly string[]).includes(c.url.searchParams.get('reason') ?? '')
    ? c.url.searchParams.get('reason')!
    : undefined;
  const shops = deps.cfg.shops.map((s) => s.id);
  let results = html``;
  if (code) {
    const hits = searchProducts(deps.stockDb, shops, code, PAGE);
    const unknown = unknownCodes(deps.stockDb, code, PAGE);
    results = html`<h2>${w.t('products')}</h2>
      ${
        hits.length
          ? html`<table>
              <tr>
                <th>${w.t('shop')}</th>
                <th>${w.t('code')}</th>
                <th>${w.t('name_')}</th>
                <th class="num">${w.t('stockValue')}</th>
                <th>${w.t('updated')}</th>
              </tr>
              ${hits.map(
                (p) =>
                  html`<tr>
                    <td>${p.shop}</td>
                    <td><a href="${productHref(p.shop, p.code)}">${p.code}</a></td>
                    <td>${p.name}</td>
                    <td class="num">
                      ${
                        p.hasVariants
                          ? html`<span class="muted">${w.t('perVariant')}</span>`
                          : p.unlimited
                            ? html`${w.t('unlimited')} <span class="muted">(${w.t('notSynced')})</span>`
                            : p.stock
                      }
                      ${p.usesCodes && !p.hasVariants ? html` <span class="muted">${w.t('usesCodes')}</span>` : ''}
                      ${
                        p.parentCode
                          ? html` <span class="muted"
                              >${w.t('variantOf')} <a href="${productHref(p.shop, p.parentCode)}">${p.parentCode}</a></span
                            >`
                          : ''
                      }
                    </td>
                    <td>${w.date(p.updatedAt)}</td>
                  </tr>`,
              )}
            </table>`
          : html`<p class="muted">${w.t('none')}</p>`
      }
      ${
        unknown.length
          ? html`<h2>${w.t('notInCatalog')}</h2>
              <table>
                <tr>
                  <th>${w.t('shop')}</th>
                  <th>${w.t('code')}</th>
                  <th>${w.t('lastUpload')}</th>
                  <th class="num">${w.t('skipped')}</th>
                  <th>${w.t('why')}</th>
                </tr>
                ${unknown.map(
                  (u) =>
                    html`<tr>
                      <td>${u.shop}</td>
                      <td><a href="${productHref(u.shop, u.code)}">${u.code}</a></td>
                      <td><a href="/uploads/${u.lastUploadId}">${u.lastUploadId}</a></td>
                      <td class="num">${u.count}</td>
                      <td>${badge('skipped')} unknown_code: ${w.reason('unknown_code')}</td>
                    </tr>`,
                )}
              </table>`
          : ''
      }`;
  } else {
    const { skips, next } = skipsPage(deps.uploads, { reason, limit: PAGE }, afterParam(c));
    results = html`<h2>${w.t('skips')}${reason ? ` · ${reason}` : ''}</h2>
      ${reason ? html`<p class="note">${w.reason(reason)}</p>` : ''}
      <table>
        <tr>
          <th>${w.t('received')}</th>
          <th>${w.t('source')}</th>
          <th>${w.t('shop')}</th>
          <th>${w.t('code')}</th>
          <th>${w.t('value')}</th>
          <th>${w.t('reason')}</th>
        </tr>
        ${skips.map(
          (s) =>
            html`<tr>
              <td>${w.date(s.receivedAt)}</td>
              <td>${skipSource(w, s)}</td>
              <td>${s.shop}</td>
              <td><a href="${productHref(s.shop, s.product_code)}">${s.product_code}</a></td>
              <td>${skipValue(s)}</td>
              <td>${s.reason}</td>
            </tr>`,
        )}
      </table>
      ${skips.length === 0 ? html`<p class="muted">${w.t('none')}</p>` : ''}${cursorPager(c, next)}`;
  }
  const body = html`<form class="filter" method="get" action="/stock">
      <label>${w.t('searchCode')}<input name="code" value="${code}" size="24" /></label>
      <label
        >${w.t('reason')}<select name="reason">
          <option value="">${w.t('any')}</option>
          ${SKIP_REASONS.map((r) => html`<option${r === reason ? html` selected` : ''}>${r}</option>`)}
        </select></label
      >
      <button type="submit">${w.t('search')}</button>
    </form>
    ${results}
    <h2>${w.t('importCatalog')} / ${w.t('exportCatalog')}</h2>
    <p>
      <a href="/stock/import">${w.t('importCatalog')}</a> ·
      ${shops.map((s) => html`<a href="/stock/export?shop=${s}">${w.t('exportCatalog')}: ${s}</a> `)}
    </p>`;
  send(c, 200, page(c, w.t('stock'), body));
}

export async function stockShow(c: Ctx): Promise<void> {
  const { w, deps } = c;
  const [shop, code] = c.params;
  if (!deps.cfg.shops.some((s) => s.id === shop)) throw new HttpError(404, w.t('noSuchPage'));
  const v = stockView(deps.stockDb, shop, code);
  const skips = v ? v.skips : listSkips(deps.uploads, { shop, code, limit: 20 });
  const head = v
    ? html`<dl>
        <dt>${w.t('shop')}</dt>
        <dd>${shop}</dd>
        <dt>${w.t('code')}</dt>
        <dd>${v.product_code}</dd>
        <dt>${w.t('name_')}</dt>
        <dd>${v.name}</dd>
        ${
          v.stock_code !== null
            ? html`<dt>${w.t('variantOf')}</dt>
                <dd><a href="${productHref(shop, v.product_code)}">${v.product_code}</a> ${v.productName}</dd>
                <dt>${w.t('stockCode')}</dt>
                <dd>${v.stock_code}</dd>`
            : ''
        }
        <dt>${w.t('stockValue')}</dt>
        <dd>
          ${
            v.variants.length
              ? html`${w.t('perVariant')} — ${w.reason('variant_product')}`
              : v.unlimited
                ? html`${w.t('unlimited')} — ${w.reason('unlimited_stock')}`
                : v.stock
          }
        </dd>
        ${
          v.uses_stock_management_code && v.stock_code === null && !v.variants.length
            ? html`<dt>${w.t('usesCodes')}</dt>
                <dd>${w.reason('stock_management_code')}</dd>`
            : ''
        }
        <dt>${w.t('lastUpload')}</dt>
        <dd>${v.lastUploadId ? html`<a href="/uploads/${v.lastUploadId}">${v.lastUploadId}</a>` : '-'}</dd>
        <dt>${w.t('updated')}</dt>
        <dd>${w.date(v.updatedAt)}</dd>
      </dl>`
    : html`<p class="warn">${w.t('unknownProduct')} ${w.reason('unknown_code')}</p>`;
  const changes = v ? v.changes : [];
  const variants = v?.variants.length
    ? html`<h2>${w.t('variants')}</h2>
        <table>
          <tr>
            <th>${w.t('stockCode')}</th>
            <th>${w.t('name_')}</th>
            <th class="num">${w.t('stockValue')}</th>
          </tr>
          ${v.variants.map(
            (x) =>
              html`<tr>
                <td><a href="${productHref(shop, x.stock_code)}">${x.stock_code}</a></td>
                <td>${x.name}</td>
                <td class="num">${x.unlimited ? html`${w.t('unlimited')} <span class="muted">(${w.t('notSynced')})</span>` : x.stock}</td>
              </tr>`,
          )}
        </table>`
    : '';
  const body = html`${head}${variants}${
      v
        ? html`<h2>${w.t('changes')}</h2>
            ${
              changes.length
                ? html`<table>
                    <tr>
                      <th>${w.t('at')}</th>
                      <th>${w.t('source')}</th>
                      <th class="num">${w.t('old')}</th>
                      <th class="num">${w.t('new')}</th>
                    </tr>
                    ${changes.map(
                      (ch) =>
                        html`<tr>
                          <td>${w.date(ch.changedAt)}</td>
                          <td>${changeSource(w, ch)}</td>
                          <td class="num">${ch.oldStock ?? '-'}</td>
                          <td class="num">${ch.newStock}</td>
                        </tr>`,
                    )}
                  </table>`
                : html`<p class="muted">${w.t('none')}</p>`
            }`
        : ''
    }
    <h2>${w.t('skips')}</h2>
    ${
      skips.length
        ? html`<table>
            <tr>
              <th>${w.t('received')}</th>
              <th>${w.t('source')}</th>
              <th>${w.t('value')}</th>
              <th>${w.t('reason')}</th>
              <th>${w.t('why')}</th>
            </tr>
            ${skips.map(
              (s) =>
                html`<tr>
                  <td>${w.date(s.receivedAt)}</td>
                  <td>${skipSource(w, s)}</td>
                  <td>${skipValue(s)}</td>
                  <td>${badge('skipped')} ${s.reason}</td>
                  <td>${w.reason(s.reason)}</td>
                </tr>`,
            )}
          </table>`
        : html`<p class="muted">${w.t('none')}</p>`
    }`;
  send(c, 200, page(c, `${w.t('stock')}: ${code}`, body));
}

function importForm(c: Ctx, message = html``): string {
  const { w } = c;
  return page(
    c,
    w.t('importCatalog'),
    html`${message}
      <p class="muted">product_code,name,stock,unlimited,uses_stock_management_code[,stock_code]</p>
      <form method="post" action="/stock/import" enctype="multipart/form-data" class="filter">
        ${csrfField(c)}
        <label
          >${w.t('shop')}<select name="shop">
            ${c.deps.cfg.shops.map((s) => html`<option>${s.id}</option>`)}
          </select></label
        >
        <label
          >${w.t('encoding')}<select name="encoding">
            <option value="">${w.t('detect')}</option>
            <option>utf-8</option>
            <option>shift_jis</option>
          </select></label
        >
        <label>${w.t('file')}<input type="file" name="file" accept=".csv,text/csv" required /></label
        ><button type="submit">${w.t('importCatalog')}</button>
      </form>`,
  );
}

export async function importGet(c: Ctx): Promise<void> {
  send(c, 200, importForm(c));
}

export async function importPost(c: Ctx, form: Form): Promise<void> {
  const { w } = c;
  const shop = c.deps.cfg.shops.find((s) => s.id === form.get('shop'));
  const file = await form.file('file');
  if (!shop || !file)
    return send(c, 400, importForm(c, html`<p class="warn">${w.t('importFailed')}: ${!shop ? w.t('shop') : w.t('file')}</p>`));
  try {
    const rows = parseCatalog(file, form.get('encoding') || undefined);
    const n = importCatalog(c.deps.stockDb, shop.id, rows);
    audit(c, 'stock import', { shop: shop.id, products: n, bytes: file.length });
    send(c, 200, importForm(c, html`<p class="done">${n} ${w.t('imported')} ${shop.id}</p>`));
  } catch (err) {
    if (!(err instanceof CatalogError)) throw err;
    audit(c, 'stock import refused', { shop: shop.id, error: err.message });
    send(c, 400, importForm(c, html`<p class="warn">${w.t('importFailed')}: ${err.message}</p>`));
  }
}

export async function exportGet(c: Ctx): Promise<void> {
  const shop = c.deps.cfg.shops.find((s) => s.id === c.url.searchParams.get('shop'));
  if (!shop) throw new HttpError(404, c.w.t('noSuchPage'));
  const sjis = c.url.searchParams.get('encoding') === 'shift_jis';
  audit(c, 'stock export', { shop: shop.id });
  c.res.writeHead(200, {
    'content-type': `text/csv; charset=${sjis ? 'shift_jis' : 'utf-8'}`,
    'content-disposition': `attachment; filename="${shop.id}-catalog.csv"`,
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
  });
  // Read in one go: an open iterator would keep the shared connection busy while the response drains.
  const lines = [...exportCatalog(c.deps.stockDb, shop.id)];
  c.res.end(sjis ? Buffer.concat(lines.map((l) => encode(l, 'shift_jis'))) : lines.join(''));
}
