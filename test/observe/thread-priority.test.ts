// A background thread lowers its own CPU priority, not the process's (Linux keeps nice per thread):
// the kernel's view of each thread is read back from /proc.
import { describe, it, expect } from 'vitest';
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { join, resolve } from 'node:path';
import { tempDir } from '../helpers/env.js';

/** The nice value of one of this process's threads (field 19 of its stat, after the command in parentheses). */
const niceOf = (tid: number) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')[16]);
const module = pathToFileURL(resolve('dist/observe/thread-priority.js')).href;

describe('thread priority', () => {
  it('makes the calling thread 5 nicer and leaves the main thread as it was', async () => {
    const mainTid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    const before = niceOf(mainTid);
    const t = tempDir();
    const entry = join(t.dir, 'background.mjs');
    writeFileSync(
      entry,
      `import { parentPort } from 'node:worker_threads';
       import { readlinkSync } from 'node:fs';
       import { lowerThreadPriority } from ${JSON.stringify(module)};
       const nice = lowerThreadPriority();
       parentPort.postMessage({ nice, tid: Number(readlinkSync('/proc/thread-self').split('/').pop()) });
       setInterval(() => {}, 1000);`,
    );
    const worker = new Worker(entry);
    const { nice, tid } = await new Promise<{ nice: number; tid: number }>((r) => worker.once('message', r));
    expect(tid).not.toBe(mainTid);
    expect(nice).toBe(Math.min(19, before + 5));
    expect(niceOf(tid)).toBe(nice); // what the kernel schedules by
    expect(niceOf(mainTid)).toBe(before);
    await worker.terminate();
    t.cleanup();
  });
});
