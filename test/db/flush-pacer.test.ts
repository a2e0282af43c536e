// While held, the pacer flushes the files that changed since its last flush, and none that did not; a file
// that is not there yet is no error; the last release ends it and its files are closed (src/db/flush-pacer.ts).
import { describe, it, expect, afterEach, beforeEach } from 'vitest';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlushPacer } from '../../src/db/flush-pacer.js';
import { tempDir } from '../helpers/env.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => (t = tempDir()));
afterEach(() => t.cleanup());

/** Waits (at most 5 s) until the pacer has made `n` flushes. */
async function flushesReach(pacer: FlushPacer, n: number): Promise<void> {
  for (let i = 0; i < 500 && pacer.flushes < n; i++) await sleep(10);
  expect(pacer.flushes).toBeGreaterThanOrEqual(n);
}

describe('FlushPacer', () => {
  it('flushes a file while it changes, not while it stays the same, and stops at the last release', async () => {
    const wal = join(t.dir, 'stock.db-wal');
    const pacer = new FlushPacer([wal, join(t.dir, 'not-yet-there')], 1);
    writeFileSync(wal, 'frame 1\n');
    const first = pacer.hold();
    const second = pacer.hold();
    await flushesReach(pacer, 1); // its first look
    appendFileSync(wal, 'frame 2\n'); // a new size: changed
    await flushesReach(pacer, 2);
    const seen = pacer.flushes;
    await sleep(50); // dozens of rounds over an unchanged file
    expect(pacer.flushes).toBe(seen);
    first();
    first(); // a release counts once
    appendFileSync(wal, 'frame 3\n');
    await flushesReach(pacer, seen + 1); // still held by the second
    second();
    await pacer.idle();
    const after = pacer.flushes;
    appendFileSync(wal, 'frame 4\n');
    await sleep(50);
    expect(pacer.flushes).toBe(after);
  });

  it('paces again when held right after a release', async () => {
    const file = join(t.dir, 'stock.db');
    writeFileSync(file, 'page\n');
    const pacer = new FlushPacer([file], 1);
    pacer.hold()();
    const again = pacer.hold(); // while the first loop may still be closing its files
    await flushesReach(pacer, 1);
    again();
    await pacer.idle();
  });
});
