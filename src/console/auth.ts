// Console logins: console.users with scrypt hashes checked by the async crypto.scrypt (a login never
// blocks the event loop), a lockout per (client, name), and in-memory sessions that each carry their
// own CSRF token. A restart logs everybody out, which only costs a login.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { Lockout } from '../security/lockout.js';
import { verifyPassword, costliestHash } from '../config/password.js';

export interface Session {
  id: string;
  user: string;
  csrf: string;
  lastSeen: number;
}

const IDLE_MS = 8 * 3600_000;
const MAX_SESSIONS = 10_000;

export const token = () => randomBytes(24).toString('base64url');

export type LoginResult = { ok: true; session: Session } | { ok: false; locked: boolean };

export class Auth {
  private readonly sessions = new Map<string, Session>();
  private readonly lockout = new Lockout({ failures: 5, windowMs: 15 * 60_000, durationMs: 15 * 60_000 });

  /** `users`: a list, or where to read the current one at each login (a reload changes it; sessions stay). */
  constructor(
    private readonly users: Config['console']['users'] | (() => Config['console']['users']),
    private readonly now = () => Date.now(),
  ) {}

  async login(client: string, name: string, password: string): Promise<LoginResult> {
    const key = name.slice(0, 64);
    if (this.lockout.isLocked(client, key)) return { ok: false, locked: true };
    const users = typeof this.users === 'function' ? this.users() : this.users;
    const user = users.find((u) => u.name === name);
    // An unknown name costs one scrypt run like a known one (verifyPassword imitates the costliest hash).
    const ok = await verifyPassword(password.slice(0, 1024), user?.password, costliestHash(users.map((u) => u.password)));
    if (!ok) return { ok: false, locked: this.lockout.fail(client, key) };
    this.lockout.succeed(client, key);
    if (this.sessions.size >= MAX_SESSIONS) this.prune();
    const session = { id: token(), user: name, csrf: token(), lastSeen: this.now() };
    this.sessions.set(session.id, session);
    return { ok: true, session };
  }

  session(id: string | undefined): Session | undefined {
    const s = id ? this.sessions.get(id) : undefined;
    if (!s) return undefined;
    if (this.now() - s.lastSeen > IDLE_MS) {
      this.sessions.delete(s.id);
      return undefined;
    }
    s.lastSeen = this.now();
    return s;
  }

  logout(id: string): void {
    this.sessions.delete(id);
  }

  private prune(): void {
    const t = this.now();
    for (const [id, s] of this.sessions) if (t - s.lastSeen > IDLE_MS) this.sessions.delete(id);
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
  }
}

/** Constant-time string comparison for CSRF tokens. */
export function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
