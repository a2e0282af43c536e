// The console's HTTP server (plain node:http): routes, the session gate (303 to /login), the CSRF gate
// on every POST (403), bounded bodies, security headers, and errors as pages that say what went wrong.
import type { IncomingMessage, ServerResponse, Server } from 'node:http';
import { http } from '../net/node-http.js';
import type { TLSSocket } from 'node:tls';
import { html } from './html.js';
import { page } from './layout.js';
import { chooseLang, words } from './i18n.js';
import { sameToken } from './auth.js';
import { CONSOLE_CSS } from './style.js';
import { HttpError, cookies, readForm, type Form } from './http.js';
import { requestTarget } from '../security/request-target.js';
import { preview } from '../security/untrusted-text.js';
import { send, redirect, cookie, type Ctx, type ConsoleDeps } from './context.js';
import { getLogin, postLogin, postLogout, SESSION_COOKIE } from './pages/login.js';
import { overview } from './pages/overview.js';
import { mailList, mailShow, mailRaw, mailFlush, resendConfirm, resendPost } from './pages/mail.js';
import { uploadList, uploadShow } from './pages/uploads.js';
import { stockSearch, stockShow, importGet, importPost, exportGet, CATALOG_MAX_BYTES } from './pages/stock.js';
import { queuesPage, queuePage, retryPost, removePost, retryAllPost } from './pages/queues.js';
import { checkGet, checkPost, CHECK_MAX_BYTES } from './pages/check.js';

/** The base a request's path is resolved against (the console never reads the host from it). */
const CONSOLE_BASE = 'http://console.invalid';
/** Sockets open at once, all clients together. */
export const CONSOLE_MAX_CONNECTIONS = 64;

type Get = (c: Ctx) => Promise<void>;
type Post = (c: Ctx, form: Form) => Promise<void>;
interface Route {
  method: 'GET' | 'POST';
  path: RegExp;
  handler: Get | Post;
  bodyLimit?: number;
  public?: boolean;
}

const SMALL_FORM = 16 * 1024;
const seg = '([^/]+)';
const ROUTES: Route[] = [
  { method: 'GET', path: /^\/login$/, handler: getLogin, public: true },
  { method: 'POST', path: /^\/login$/, handler: postLogin, public: true },
  { method: 'POST', path: /^\/logout$/, handler: postLogout },
  { method: 'GET', path: /^\/$/, handler: overview },
  { method: 'GET', path: /^\/mail$/, handler: mailList },
  { method: 'GET', path: /^\/mail\/check$/, handler: checkGet },
  { method: 'POST', path: /^\/mail\/check$/, handler: checkPost, bodyLimit: CHECK_MAX_BYTES },
  { method: 'POST', path: /^\/mail\/flush$/, handler: mailFlush },
  { method: 'GET', path: new RegExp(`^/mail/${seg}$`), handler: mailShow },
  { method: 'GET', path: new RegExp(`^/mail/${seg}/raw$`), handler: mailRaw },
  { method: 'GET', path: new RegExp(`^/mail/${seg}/resend$`), handler: resendConfirm },
  { method: 'POST', path: new RegExp(`^/mail/${seg}/resend$`), handler: resendPost },
  { method: 'GET', path: /^\/uploads$/, handler: uploadList },
  { method: 'GET', path: new RegExp(`^/uploads/${seg}$`), handler: uploadShow },
  { method: 'GET', path: /^\/stock$/, handler: stockSearch },
  { method: 'GET', path: /^\/stock\/import$/, handler: importGet },
  { method: 'POST', path: /^\/stock\/import$/, handler: importPost, bodyLimit: CATALOG_MAX_BYTES },
  { method: 'GET', path: /^\/stock\/export$/, handler: exportGet },
  { method: 'GET', path: new RegExp(`^/stock/${seg}/${seg}$`), handler: stockShow },
  { method: 'GET', path: /^\/queues$/, handler: queuesPage },
  { method: 'GET', path: new RegExp(`^/queues/${seg}$`), handler: queuePage },
  { method: 'POST', path: new RegExp(`^/queues/${seg}/retry$`), handler: retryPost },
  { method: 'POST', path: new RegExp(`^/queues/${seg}/remove$`), handler: removePost },
  { method: 'POST', path: new RegExp(`^/queues/${seg}/retry-all$`), handler: retryAllPost },
];

function match(method: string, pathname: string): { route?: Route; params: string[]; methodKnown: boolean } {
  let methodKnown = false;
  for (const route of ROUTES) {
    const m = route.path.exec(pathname);
    if (!m) continue;
    methodKnown = true;
    if (route.method === method || (method === 'HEAD' && route.method === 'GET'))
      return { route, params: m.slice(1).map(decodeURIComponent), methodKnown };
  }
  return { params: [], methodKnown };
}

async function handle(deps: ConsoleDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = requestTarget(req.url, CONSOLE_BASE);
  if (!url) throw new HttpError(400, 'bad request');
  const jar = cookies(req);
  const lang = chooseLang(url.searchParams.get('lang'), jar.zb_lang, req.headers['accept-language']);
  const secure = !!(req.socket as TLSSocket).encrypted;
  const c: Ctx = {
    req,
    res,
    deps,
    url,
    params: [],
    client: req.socket.remoteAddress ?? '',
    secure,
    w: words(lang, deps.cfg.console.timeZone),
  };
  if (url.pathname === '/static/console.css') {
    res
      .writeHead(200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'max-age=3600', 'x-content-type-options': 'nosniff' })
      .end(CONSOLE_CSS);
    return;
  }
  if (url.pathname === '/favicon.ico') {
    res.writeHead(204, { 'cache-control': 'max-age=86400' }).end();
    return;
  }
  const langCookie =
    url.searchParams.get('lang') === lang ? { 'set-cookie': cookie(c, 'zb_lang', lang, { maxAge: 365 * 86400 }) } : undefined;
  if (langCookie) res.setHeader('set-cookie', langCookie['set-cookie']);
  let found: ReturnType<typeof match>;
  try {
    found = match(req.method ?? 'GET', url.pathname);
  } catch {
    found = { params: [], methodKnown: false };
  }
  c.session = deps.auth.session(jar[SESSION_COOKIE]);
  const { route, params } = found;
  if (!route?.public && !c.session) return redirect(c, '/login');
  if (!route) return send(c, found.methodKnown ? 405 : 404, page(c, c.w.t('error'), html`<p class="warn">${c.w.t('noSuchPage')}</p>`));
  c.params = params;
  if (route.method === 'GET') return (route.handler as Get)(c);
  if (route.public) return (route.handler as Post)(c, undefined as unknown as Form);
  const form = await readForm(req, route.bodyLimit ?? SMALL_FORM);
  if (!sameToken(form.get('csrf'), c.session!.csrf)) {
    deps.log.warn({ user: c.session!.user, client: c.client, path: preview(url.pathname) }, 'console POST without its CSRF token refused');
    return send(c, 403, page(c, c.w.t('error'), html`<p class="warn">${c.w.t('forbidden')}</p>`));
  }
  return (route.handler as Post)(c, form);
}

export function createConsoleServer(live: ConsoleDeps): Server {
  const server = http.createServer((req, res) => {
    const deps = { ...live, cfg: live.cfg }; // the config current at the request's start, for the whole request
    handle(deps, req, res)
      .catch((err: Error) => {
        const status = err instanceof HttpError ? err.status : 500;
        if (status === 500) deps.log.error({ err: err.message, path: preview(req.url?.split('?')[0] ?? '') }, 'console request failed');
        if (res.headersSent) {
          res.destroy();
          return;
        }
        const w = words(chooseLang(null, cookies(req).zb_lang, req.headers['accept-language']), deps.cfg.console.timeZone);
        const text = status === 413 ? `${w.t('tooLarge')}: ${err.message}` : status === 500 ? w.t('error') : err.message;
        // A refused body is not read to its end: close the connection after the answer.
        res.writeHead(status, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
          'content-security-policy': "default-src 'none'; style-src 'self'",
          ...(status === 413 ? { connection: 'close' } : {}),
        });
        res.end(
          page(
            { w, url: requestTarget(req.url, CONSOLE_BASE) ?? new URL('/', CONSOLE_BASE) },
            w.t('error'),
            html`<p class="warn">${text}</p>
              <p><a href="/">${w.t('back')}</a></p>`,
          ),
        );
      })
      .catch((err: Error) => {
        // The error page failed too: nothing catches past here, and an unhandled rejection ends the process.
        deps.log.error({ err: err.message }, 'console error page failed');
        res.destroy();
      });
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 120_000;
  server.maxRequestsPerSocket = 1000;
  // Under `start` the console shares the relay's file descriptors: idle sockets past this are closed
  // as they come, so a flood of them cannot leave the relay without one (a few operators' browsers use ~6 each).
  server.maxConnections = CONSOLE_MAX_CONNECTIONS;
  return server;
}
