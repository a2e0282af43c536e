// Shared secrets in config: plain text or "scrypt$N$r$p$salt$hash" (base64), always compared in constant time.
// scrypt runs on libuv's thread pool (async), never on the event loop, and every check costs one scrypt
// run whatever it is checked against (a hash, a plain password, nothing: an unknown user), so the time
// of an answer does not tell a known user from an unknown one.
import { scrypt as scryptCallback, randomBytes, timingSafeEqual, createHash, createHmac, type ScryptOptions } from 'node:crypto';

const SCRYPT = { N: 16384, r: 8, p: 1, keyLen: 32 };

/**
 * scrypt runs at most this many at once; the rest wait here, not in libuv's pool. The pool (4 threads) also
 * runs every file call, the relay's spool writes among them: a flood of wrong passwords (uploads with random
 * sys_ids, console logins: no lockout holds them) queued there ahead of the spool, and a trusted cart's mail
 * waited 6-10 s for its 250 instead of 10 ms. Two leave the pool free for files; checks wait their turn.
 */
const MAX_SCRYPT_AT_ONCE = 2;
let scryptRunning = 0;
const scryptWaiting: (() => void)[] = [];

async function scrypt(password: string, salt: Buffer, keyLen: number, options: ScryptOptions): Promise<Buffer> {
  if (scryptRunning < MAX_SCRYPT_AT_ONCE) scryptRunning++;
  else await new Promise<void>((resolve) => scryptWaiting.push(resolve)); // a finishing run hands its slot over
  try {
    return await new Promise<Buffer>((resolve, reject) =>
      scryptCallback(password, salt, keyLen, options, (err, key) => (err ? reject(err) : resolve(key))),
    );
  } finally {
    const next = scryptWaiting.shift();
    if (next) next();
    else scryptRunning--;
  }
}

export async function hashPassword(plain: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(plain, salt, SCRYPT.keyLen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export function isScryptHash(value: string): boolean {
  return /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/.test(value);
}

async function matchesScrypt(given: string, hashed: string): Promise<boolean> {
  const [, n, r, p, salt, hash] = hashed.split('$');
  const expected = Buffer.from(hash, 'base64');
  const actual = await scrypt(given, Buffer.from(salt, 'base64'), expected.length, { N: +n, r: +r, p: +p, maxmem: 256 * +n * +r });
  return timingSafeEqual(actual, expected);
}

/** A hash of a random secret, made once: what plain passwords and unknown users are checked against. */
let dummyHash: Promise<string> | undefined;

/** Of the configured passwords, the scrypt hash that costs most to check (what an unknown user should cost). */
export function costliestHash(configured: string[]): string | undefined {
  const cost = (h: string) => {
    const [, n, r, p] = h.split('$');
    return +n * +r * +p;
  };
  return configured.filter(isScryptHash).sort((a, b) => cost(b) - cost(a))[0];
}

/**
 * Passwords that matched, remembered as an HMAC under a key made at start (never the password itself): the
 * next check of the same password against the same configured one needs no scrypt run. zaiko Robot sends the
 * same sys_pass with every upload, a cart the same AUTH with every message, and each scrypt run costs
 * ~50 ms of CPU and 16 MB of memory while it runs (scrypt's N × r × 128 bytes: the tree's RSS rose 10-19 MB
 * on every upload of the footprint soak). A wrong password and an unknown user still cost one scrypt run,
 * so timing still does not tell a known user from an unknown one; a fast answer only says that the password
 * is right, which the answer itself says.
 */
const MATCHED_KEY = randomBytes(32);
const matched = new Map<string, Buffer>(); // configured password → HMAC of the given one that matched it
const MAX_MATCHED = 256; // configured passwords (reloads can bring new ones): then it starts again
const matchedMac = (given: string) => createHmac('sha256', MATCHED_KEY).update(given).digest();

/**
 * Constant-time check of `given` against a configured plain or scrypt password. `configured` undefined
 * (no such user) is false, after checking against `imitate` (give costliestHash() of the configured
 * passwords) or a dummy hash, so that it costs what a known user does.
 */
export async function verifyPassword(given: string, configured: string | undefined, imitate?: string): Promise<boolean> {
  const known = configured === undefined ? undefined : matched.get(configured);
  if (known && timingSafeEqual(matchedMac(given), known)) return true;
  const ok = await checkPassword(given, configured, imitate);
  if (ok && configured !== undefined) {
    if (matched.size >= MAX_MATCHED) matched.clear();
    matched.set(configured, matchedMac(given));
  }
  return ok;
}

async function checkPassword(given: string, configured: string | undefined, imitate?: string): Promise<boolean> {
  if (configured !== undefined && isScryptHash(configured)) return matchesScrypt(given, configured);
  await matchesScrypt(
    given,
    configured === undefined && imitate ? imitate : await (dummyHash ??= hashPassword(randomBytes(32).toString('base64'))),
  );
  if (configured === undefined) return false;
  // Hash both sides first so lengths match and the comparison time does not leak the length.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(configured).digest();
  return timingSafeEqual(a, b);
}
