// The threads that work after the answer (deliveries, the stock apply and uploads under `start`) run at
// a lower CPU priority than the thread that answers SMTP. On two cores the client's next connection,
// our SMTP thread, the delivery thread, Redis and the upstream all want a core at once; the kernel then
// serves the answer first and the background work a moment later (it still gets every idle cycle).
// Linux keeps the nice value per thread, and a thread finds its own id at /proc/thread-self.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** How much nicer than the process a background thread is (nice 0 → 5: ~1/3 of the CPU weight). */
const BACKGROUND_NICE_STEP = 5;

/** Lowers the calling thread's priority by `step`; the new nice value, or undefined where it cannot (not Linux). */
export function lowerThreadPriority(step = BACKGROUND_NICE_STEP): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return undefined;
    const nice = Math.min(19, getPriority(tid) + step);
    setPriority(tid, nice);
    return nice;
  } catch {
    return undefined;
  }
}
