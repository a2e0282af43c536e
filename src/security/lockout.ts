// Failed logins counted per (client address, user): `failures` within `windowMs` lock the pair for
// `durationMs`; a success resets it. In memory: a restart forgives, which only costs an attacker time.
// Used by the upload endpoint (sys_id) and the relay's SMTP AUTH. Everything here comes from clients
// that failed to log in, so it is bounded: at most `maxEntries` pairs (expired ones pruned first,
// then the oldest unlocked one), each key at most MAX_KEY_CHARS long (longer ones are hashed).
import { createHash } from 'node:crypto';

const MAX_KEY_CHARS = 256;
const DEFAULT_MAX_ENTRIES = 10_000;

interface Entry {
  failures: number[];
  lockedUntil: number;
}

export class Lockout {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;

  constructor(
    private readonly opts: { failures: number; windowMs: number; durationMs: number; maxEntries?: number },
    private readonly now = () => Date.now(),
  ) {
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
  }

  /** Pairs remembered now, and the longest key kept (what an attacker can make this hold). */
  get stats(): { entries: number; longestKey: number } {
    let longestKey = 0;
    for (const k of this.entries.keys()) longestKey = Math.max(longestKey, k.length);
    return { entries: this.entries.size, longestKey };
  }

  isLocked(address: string, user: string): boolean {
    const e = this.entries.get(key(address, user));
    return !!e && e.lockedUntil > this.now();
  }

  /** Records a failure; returns true when this failure locked the pair. */
  fail(address: string, user: string): boolean {
    const k = key(address, user);
    const t = this.now();
    let e = this.entries.get(k);
    if (!e) {
      if (this.entries.size >= this.maxEntries) this.makeRoom(t);
      this.entries.set(k, (e = { failures: [], lockedUntil: 0 }));
    }
    e.failures = e.failures.filter((f) => f > t - this.opts.windowMs);
    e.failures.push(t);
    if (e.failures.length >= this.opts.failures) {
      e.lockedUntil = t + this.opts.durationMs;
      e.failures = [];
      return true;
    }
    return false;
  }

  succeed(address: string, user: string): void {
    this.entries.delete(key(address, user));
  }

  private expired(e: Entry, t: number): boolean {
    return e.lockedUntil <= t && e.failures.every((f) => f <= t - this.opts.windowMs);
  }

  /** Drops expired pairs; when none was, the oldest pair not locked (a locked one only if all are). */
  private makeRoom(t: number): void {
    for (const [k, e] of this.entries) if (this.expired(e, t)) this.entries.delete(k);
    if (this.entries.size < this.maxEntries) return;
    let victim: string | undefined;
    for (const [k, e] of this.entries) {
      if (e.lockedUntil <= t) {
        victim = k;
        break;
      }
    }
    this.entries.delete(victim ?? this.entries.keys().next().value!);
  }
}

function key(address: string, user: string): string {
  const k = `${address}\0${user}`;
  return k.length <= MAX_KEY_CHARS ? k : `sha256:${createHash('sha256').update(k).digest('base64')}`;
}
