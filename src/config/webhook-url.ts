// Checks for shops[].cart.webhook: the secret's form (Standard Webhooks 1.0) and where stock may be pushed.
import { isIP } from 'node:net';

export const SECRET_PREFIX = 'whsec_';
const MIN_SECRET_BYTES = 24; // Standard Webhooks: 24 to 64 random bytes

/** The HMAC key of a `whsec_<base64>` secret, or undefined when the text is not one. */
export function secretKey(secret: string): Buffer | undefined {
  if (!secret.startsWith(SECRET_PREFIX)) return undefined;
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return undefined;
  const key = Buffer.from(b64, 'base64');
  return key.length >= MIN_SECRET_BYTES ? key : undefined;
}

/** True for localhost, 127.0.0.0/8 and ::1 (an IPv4-mapped 127.x too): stock pushed there never leaves the host. */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./.test(host) || /^::ffff:7f[0-9a-f]{2}:/.test(host);
  return false;
}

/** Why the cart's URL is refused, or undefined when stock may be pushed there. */
export function webhookUrlProblem(url: string, allowInsecure: boolean): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'not a URL (e.g. https://shop.example.jp/api/zaikorobot-webhook.php)';
  }
  if (u.protocol === 'https:') return undefined;
  if (u.protocol !== 'http:') return `must be https:// (got ${u.protocol}//)`;
  if (isLoopbackHost(u.hostname) || allowInsecure) return undefined;
  return 'must be https:// (http:// only to a loopback host, or with allowInsecure: true): the stock and its signature would cross the network in clear';
}
