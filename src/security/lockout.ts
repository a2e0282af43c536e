// Failed logins counted per (client address, user): `failures` within `windowMs` lock the pair for
// `durationMs`; a success resets it. In memory: a restart forgives, which only costs an attacker time.

export class Lockout {
  private readonly entries = new Map<string, { failures: number[]; lockedUntil: number }>();
  constructor(private readonly opts: { failures: number; windowMs: number; durationMs: number }, private readonly now = () => Date.now()) {}

  isLocked(address: string, sysId: string): boolean {
    const e = this.entries.get(`${address}\0${sysId}`);
    return !!e && e.lockedUntil > this.now();
  }

  /** Records a failure; returns true when this failure locked the pair. */
  fail(address: string, sysId: string): boolean {
    const key = `${address}\0${sysId}`;
    const t = this.now();
    const e = this.entries.get(key) ?? { failures: [], lockedUntil: 0 };
    e.failures = e.failures.filter((f) => f > t - this.opts.windowMs);
    e.failures.push(t);
    this.entries.set(key, e);
    if (e.failures.length >= this.opts.failures) {
      e.lockedUntil = t + this.opts.durationMs;
      e.failures = [];
      return true;
    }
    if (this.entries.size > 100_000) this.prune(t);
    return false;
  }

  succeed(address: string, sysId: string): void {
    this.entries.delete(`${address}\0${sysId}`);
  }

  private prune(t: number): void {
    for (const [k, e] of this.entries) if (e.lockedUntil <= t && e.failures.every((f) => f <= t - this.opts.windowMs)) this.entries.delete(k);
  }
}
