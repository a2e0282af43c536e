// The page shell: navigation, the language switch, the logout form; every form gets the session's CSRF token.
import { html, type Html } from './html.js';
import type { Words, Key } from './i18n.js';
import type { Session } from './auth.js';

export interface View {
  w: Words;
  session?: Session;
  url: URL;
}

const NAV: [string, Key][] = [
  ['/', 'overview'],
  ['/mail', 'mail'],
  ['/uploads', 'uploads'],
  ['/stock', 'stock'],
  ['/queues', 'queues'],
  ['/mail/check', 'check'],
];

/** The current address with `lang` replaced: the switch keeps the page and its filters. */
function langHref(url: URL, lang: string): string {
  const u = new URL(url.href);
  u.searchParams.set('lang', lang);
  return u.pathname + u.search;
}

const navLink = (href: string, on: boolean, label: string) => html`<a href="${href}" class="${on ? 'on' : ''}">${label}</a>`;

export const csrfField = (v: View) => html`<input type="hidden" name="csrf" value="${v.session?.csrf ?? ''}" />`;

export function page(v: View, title: string, body: Html): string {
  const path = v.url.pathname;
  const on = (href: string) =>
    href === '/' ? path === '/' : path === href || (path.startsWith(href + '/') && !(href === '/mail' && path === '/mail/check'));
  const other = v.w.lang === 'ja' ? 'en' : 'ja';
  return html`<!doctype html>
    <html lang="${v.w.lang}">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · ${v.w.t('title')}</title>
        <link rel="stylesheet" href="/static/console.css" />
      </head>
      <body>
        <header>
          <span class="brand">zaiko-bridge</span>
          ${v.session ? html`<nav>${NAV.map(([href, key]) => navLink(href, on(href), v.w.t(key)))}</nav>` : ''}
          <span class="right"
            ><a href="${langHref(v.url, other)}" hreflang="${other}">${other === 'ja' ? '日本語' : 'English'}</a> ${
              v.session
                ? html`<span>${v.w.t('signedInAs')} ${v.session.user}</span>
                    <form method="post" action="/logout">${csrfField(v)}<button type="submit">${v.w.t('logout')}</button></form>`
                : ''
            }</span
          >
        </header>
        <main>
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html>`.text;
}

/** Links to the previous and next page of a list, keeping its filters. */
export function pager(v: View, pageNo: number, hasNext: boolean): Html {
  const href = (p: number) => {
    const u = new URL(v.url.href);
    u.searchParams.set('page', String(p));
    u.searchParams.delete('lang');
    return u.pathname + u.search;
  };
  return html`<div class="pager">
    ${pageNo > 1 ? html`<a href="${href(pageNo - 1)}">← ${v.w.t('prev')}</a>` : ''}
    <span class="muted">${v.w.t('page')} ${pageNo}</span>${hasNext ? html`<a href="${href(pageNo + 1)}">${v.w.t('next')} →</a>` : ''}
  </div>`;
}

/** Longer than any cursor the pages give (a skips cursor: two ids, two positions, an order key ≤ 300). */
const MAX_CURSOR_CHARS = 400;

/**
 * The page's `?after=` cursor, when given once and short enough to be one; else none: the list starts at
 * the newest (as it does for a value no cursor pattern matches), and the pager offers the newest anyway.
 */
export function afterParam(v: View): string | undefined {
  const all = v.url.searchParams.getAll('after');
  return all.length === 1 && all[0].length <= MAX_CURSOR_CHARS ? all[0] : undefined;
}

/**
 * Keyset paging (long lists: the mail ledger, the skips): the page after is named by the last row of
 * this one (`?after=`), so a deep page costs what the first does; back to the newest from any page.
 */
export function cursorPager(v: View, next: string | undefined): Html {
  const href = (after: string | undefined) => {
    const u = new URL(v.url.href);
    if (after === undefined) u.searchParams.delete('after');
    else u.searchParams.set('after', after);
    u.searchParams.delete('page');
    u.searchParams.delete('lang');
    return u.pathname + u.search;
  };
  return html`<div class="pager">
    ${v.url.searchParams.has('after') ? html`<a href="${href(undefined)}">← ${v.w.t('newest')}</a>` : ''}
    ${next !== undefined ? html`<a href="${href(next)}">${v.w.t('next')} →</a>` : ''}
  </div>`;
}

export const badge = (state: string | null | undefined) => html`<span class="b ${state ?? ''}">${state ?? '-'}</span>`;
