// The web console as a browser meets it: logging in (GET /login for the CSRF pair, then POST it back), and
// messages in the ledger for its lists to show.
import { request } from 'node:http';
import type { NewMessage } from '../../src/ledger/store.js';

/** Logs in to the console on `port`; the session cookie (`zb_session=…`) it sets. */
export async function consoleLogin(port: number, name: string, password: string): Promise<string> {
  const exchange = (method: string, headers: Record<string, string>, body?: string) =>
    new Promise<{ text: string; setCookie: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path: '/login', headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ text, setCookie: String(res.headers['set-cookie'] ?? '') }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const page = await exchange('GET', {});
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)![1];
  const form = `name=${encodeURIComponent(name)}&password=${encodeURIComponent(password)}&csrf=${csrf}`;
  const res = await exchange('POST', { cookie: `zb_login=${csrf}`, 'content-type': 'application/x-www-form-urlencoded' }, form);
  return `zb_session=${/zb_session=([^;]+)/.exec(res.setCookie)![1]}`;
}

/** A plain accepted message (no shop, not an order, one recipient), as the console's lists show it. */
export function listedMessage(id: string, over: Partial<NewMessage> = {}): NewMessage {
  return {
    id,
    receivedAt: Date.now(),
    clientAddress: '127.0.0.1',
    clientHelo: 'x',
    authUser: null,
    mailFrom: 'a@b.jp',
    headerFrom: null,
    subject: id,
    messageId: null,
    size: 1,
    spoolPath: '/nonexistent',
    shopId: null,
    isOrder: false,
    orderNumber: null,
    items: [],
    flags: [],
    deliverTo: ['c@d.jp'],
    forwardTo: null,
    claim: null,
    ...over,
  };
}
