// Helpers for the security tests: the relay's liveness while an attack runs, and watching a folder grow.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RawSmtp } from './raw-smtp.js';

/** The bar: the relay answers EHLO on another connection within this long while an attack runs. */
export const EHLO_WITHIN_MS = 1000;

/** Opens a session from `localAddress` (an allowed client by default), says EHLO; resolves with the reply and the time taken. */
export async function probeEhlo(port: number, localAddress = '127.0.0.1'): Promise<{ reply: string | null; ms: number }> {
  const started = performance.now();
  const c = await RawSmtp.open(port, localAddress);
  try {
    const reply = await c.cmd('EHLO probe.test');
    return { reply, ms: performance.now() - started };
  } finally {
    c.close();
  }
}

/** Writes with backpressure: resolves once the socket took the bytes. */
export function writeDrained(c: RawSmtp, data: string | Buffer): Promise<void> {
  if (c.socket.write(data)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new Error('connection closed while writing'));
    c.socket.once('close', onClose);
    c.socket.once('drain', () => {
      c.socket.off('close', onClose);
      resolve();
    });
  });
}

/**
 * Polls a folder's files every few ms (and at each sample()) until stop(); `largest` is the biggest
 * single file seen, `total` the biggest sum.
 */
export function watchFolder(dir: string, everyMs = 5) {
  let largest = 0;
  let total = 0;
  let polls = 0;
  let running = true;
  const sample = () => {
    let sum = 0;
    for (const f of readdirSync(dir)) {
      try {
        const size = statSync(join(dir, f)).size;
        sum += size;
        largest = Math.max(largest, size);
      } catch {
        /* removed between readdir and stat */
      }
    }
    total = Math.max(total, sum);
    polls++;
  };
  const loop = (async () => {
    while (running) {
      sample();
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    sample,
    async stop() {
      running = false;
      await loop;
      return { largest, total, polls };
    },
  };
}
