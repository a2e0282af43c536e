// GET/POST /login and POST /logout. The login form's CSRF token is a random cookie set with the form
// (there is no session yet); the form must send it back.
import { html } from '../html.js';
import { page } from '../layout.js';
import { token, sameToken } from '../auth.js';
import { send, redirect, cookie, audit, type Ctx } from '../context.js';
import { cookies, readForm } from '../http.js';

export const SESSION_COOKIE = 'zb_session';
const LOGIN_COOKIE = 'zb_login';

function loginForm(c: Ctx, status: number, message?: string): void {
  // Reuse the token a parallel GET (another tab, a favicon request) already set, so it does not void this form.
  const current = cookies(c.req)[LOGIN_COOKIE];
  const csrf = current && /^[\w-]{32}$/.test(current) ? current : token();
  const body = html`<div class="login">
    ${message ? html`<p class="warn">${message}</p>` : ''}
    <form method="post" action="/login">
      <input type="hidden" name="csrf" value="${csrf}" />
      <label>${c.w.t('name')}<input name="name" autocomplete="username" required autofocus /></label>
      <label>${c.w.t('password')}<input name="password" type="password" autocomplete="current-password" required /></label>
      <button type="submit">${c.w.t('login')}</button>
    </form>
  </div>`;
  send(c, status, page(c, c.w.t('login'), body), undefined, { 'set-cookie': cookie(c, LOGIN_COOKIE, csrf, { maxAge: 3600 }) });
}

export async function getLogin(c: Ctx): Promise<void> {
  if (c.session) return redirect(c, '/');
  loginForm(c, 200);
}

export async function postLogin(c: Ctx): Promise<void> {
  const form = await readForm(c.req, 8 * 1024);
  if (!sameToken(form.get('csrf'), cookies(c.req)[LOGIN_COOKIE]))
    return send(c, 403, page(c, c.w.t('error'), html`<p class="warn">${c.w.t('forbidden')}</p>`));
  const name = form.get('name') ?? '';
  const result = await c.deps.auth.login(c.client, name, form.get('password') ?? '');
  if (!result.ok) {
    // The name is logged only when it is a configured user: a password typed into the name field stays out of the log.
    const known = c.deps.cfg.console.users.some((u) => u.name === name);
    c.deps.log.warn({ client: c.client, user: known ? name : undefined, locked: result.locked }, 'console login failed');
    return loginForm(c, result.locked ? 429 : 401, c.w.t(result.locked ? 'lockedOut' : 'loginFailed'));
  }
  c.session = result.session;
  audit(c, 'login');
  redirect(c, '/', { 'set-cookie': [cookie(c, SESSION_COOKIE, result.session.id), cookie(c, LOGIN_COOKIE, '', { maxAge: 0 })] });
}

export async function postLogout(c: Ctx): Promise<void> {
  audit(c, 'logout');
  c.deps.auth.logout(c.session!.id);
  redirect(c, '/login', { 'set-cookie': cookie(c, SESSION_COOKIE, '', { maxAge: 0 }) });
}
