// The change feed's bearer tokens (shops[].cart.token): kept plain or as `sha256$<hex>`, always
// compared as SHA-256 digests in constant time, so neither the value nor its length leaks by timing.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const HASH_PREFIX = 'sha256$';
const TOKEN_BYTES = 32;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** A new random token and the `sha256$…` form to put in the config instead of it. */
export function newToken(): { token: string; hash: string } {
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  return { token, hash: HASH_PREFIX + digest(token).toString('hex') };
}

/** Whether `given` is the configured token (plain or `sha256$<hex>`). */
export function tokenMatches(configured: string, given: string): boolean {
  const want = configured.startsWith(HASH_PREFIX) ? Buffer.from(configured.slice(HASH_PREFIX.length), 'hex') : digest(configured);
  const got = digest(given);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = header && /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  return m ? m[1] : undefined;
}
