// glibc's calls through koffi (src/observe/libc.ts), each run in a child node so that what they change (the
// process image, its arenas) is that child's: execve keeps the pid and stdio and passes argv and env;
// malloc_trim gives back pages that free() kept.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { join, resolve } from 'node:path';
import { tempDir } from '../helpers/env.js';

const libcModule = JSON.stringify(pathToFileURL(resolve('dist/observe/libc.js')).href);

/** Runs `body` as an ES module in a child node; its stdout and exit status. */
function runChild(body: string, flags: string[] = []) {
  const t = tempDir();
  try {
    const script = join(t.dir, 'child.mjs');
    writeFileSync(script, `import { libc } from ${libcModule};\n${body}`);
    const r = spawnSync(process.execPath, [...flags, script], { encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    t.cleanup();
  }
}

describe('glibc through koffi', () => {
  it('execve replaces the process: same pid, stdout still open, argv and env as given', () => {
    const r = runChild(
      `console.log('before ' + process.pid);
       const errno = libc().execve('/bin/sh', ['/bin/sh', '-c', 'echo "after $$ $0 $1 $ZB_TEST"', 'one', 'two'], { ZB_TEST: 'env-ok' });
       console.log('execve failed: errno ' + errno);`,
    );
    expect(r.status).toBe(0);
    const [before, after] = r.stdout.trim().split('\n');
    const pid = before.split(' ')[1];
    expect(after).toBe(`after ${pid} one two env-ok`);
  });

  it('execve of a missing file returns its errno (ENOENT) and the process goes on', () => {
    const r = runChild(`console.log('errno ' + libc().execve('/nonexistent/zb', ['zb'], {}));`);
    expect(r.stdout.trim()).toBe('errno 2');
  });

  it('malloc_trim returns the pages of freed allocations that free() kept', () => {
    // 80 MB in 8 KiB blocks (below glibc's mmap threshold: they come from the arena), then all freed but
    // the last, which pins the top of the heap so that free() alone cannot shrink it.
    const r = runChild(
      `const rss = () => Number(process.memoryUsage.rss() / 1048576);
       let blocks = Array.from({ length: 10_000 }, () => Buffer.alloc(8192, 1));
       const last = blocks.at(-1);
       blocks = null;
       gc(); gc();
       await new Promise((r) => setTimeout(r, 500));
       const kept = rss();
       const trimmed = libc().mallocTrim();
       console.log(JSON.stringify({ kept, after: rss(), trimmed, last: last.length }));`,
      ['--expose-gc'],
    );
    expect(r.stderr).toBe('');
    const { kept, after, trimmed } = JSON.parse(r.stdout);
    expect(trimmed).toBe(true);
    expect(kept - after).toBeGreaterThan(40);
  });
});
