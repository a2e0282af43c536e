// Shared secrets in config: plain text or "scrypt$N$r$p$salt$hash" (base64), always compared in constant time.
import { scryptSync, randomBytes, timingSafeEqual, createHash } from 'node:crypto';

const SCRYPT = { N: 16384, r: 8, p: 1, keyLen: 32 };

export function hashPassword(plain: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(plain, salt, SCRYPT.keyLen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export function isScryptHash(value: string): boolean {
  return /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/.test(value);
}

/** Constant-time check of `given` against a configured plain or scrypt password. */
export function verifyPassword(given: string, configured: string): boolean {
  if (isScryptHash(configured)) {
    const [, n, r, p, salt, hash] = configured.split('$');
    const expected = Buffer.from(hash, 'base64');
    const actual = scryptSync(given, Buffer.from(salt, 'base64'), expected.length, { N: +n, r: +r, p: +p, maxmem: 256 * +n * +r });
    return timingSafeEqual(actual, expected);
  }
  // Hash both sides first so lengths match and the comparison time does not leak the length.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(configured).digest();
  return timingSafeEqual(a, b);
}
