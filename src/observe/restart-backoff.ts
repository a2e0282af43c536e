// The restart delay shared by the two supervisors (roles/stock-thread.ts for start's stock thread, delivery/thread.ts for
// the relay's delivery thread): here, below both, so that delivery/ need not import roles/.
const RESTART_INITIAL_MS = 1000;
const RESTART_MAX_MS = 30_000;
const STABLE_MS = 60_000; // up this long before dying: the next restart starts at 1 s again

/** The delay before the next restart; `upMs`: how long the worker ran before it died this time. */
export class RestartBackoff {
  private next = RESTART_INITIAL_MS;

  delay(upMs: number): number {
    if (upMs >= STABLE_MS) this.next = RESTART_INITIAL_MS;
    const d = this.next;
    this.next = Math.min(this.next * 2, RESTART_MAX_MS);
    return d;
  }
}
