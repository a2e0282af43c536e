// Two C library calls Node does not give us, made through koffi (an FFI library; its npm package carries
// prebuilt binaries, so nothing is compiled at install):
// - execve, for Node 20, which has no process.execve (added in 22.15): `node dist/cli.js start` replaces
//   itself with a node that has the flags and environment it needs (roles/relaunch.ts), instead of
//   keeping a 44 MB process alive only to wait for a child.
// - malloc_trim, after a big upload: glibc keeps the pages a freed allocation leaves in the middle of an
//   arena; malloc_trim gives every whole free page of every arena back to the system (observe/malloc-trim.ts).
// Loaded on first use. Where koffi or glibc is missing (musl, another OS, a CPU koffi has no binary for),
// libc() is undefined and each caller has a fallback: a child process instead of execve, and no trim.
import { createRequire } from 'node:module';

export interface Libc {
  /** Replaces this process (same pid) with `file`; returns only if that failed: the errno. */
  execve(file: string, argv: readonly string[], env: NodeJS.ProcessEnv): number;
  /** Returns the free pages of every malloc arena to the system; true when some were returned. */
  mallocTrim(): boolean;
}

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

let loaded: Libc | null | undefined;

/** glibc's calls, or undefined where they cannot be had (the reason is logged by no one: callers fall back). */
export function libc(): Libc | undefined {
  if (loaded === undefined) loaded = load();
  return loaded ?? undefined;
}

function load(): Libc | null {
  if (process.platform !== 'linux') return null;
  try {
    // koffi is CommonJS; require keeps the load synchronous for the callers that cannot wait. It is an
    // optional dependency: missing where npm had no binary of it for the platform.
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const lib = koffi.load('libc.so.6'); // glibc's name: fails on musl, where the fallbacks run
    const execve = lib.func('int execve(const char *file, const char **argv, const char **envp)');
    const fcntl = lib.func('int fcntl(int fd, int cmd, ...)');
    const mallocTrim = optional(() => lib.func('int malloc_trim(size_t pad)'));
    return {
      execve(file, argv, env) {
        // Node opens stdin, stdout and stderr close-on-exec; the new program must keep them (Node 22's
        // process.execve clears the flag the same way, and puts it back if the call fails).
        const saved = [0, 1, 2].map((fd) => fcntl(fd, F_GETFD) as number);
        saved.forEach((flags, fd) => flags >= 0 && fcntl(fd, F_SETFD, 'int', flags & ~FD_CLOEXEC));
        const envp = Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
        execve(file, [...argv, null], [...envp, null]);
        const errno = koffi.errno();
        saved.forEach((flags, fd) => flags >= 0 && fcntl(fd, F_SETFD, 'int', flags));
        return errno;
      },
      mallocTrim: () => mallocTrim?.(0) === 1,
    };
  } catch {
    return null;
  }
}

/** A binding that may be missing (a libc that has execve but not malloc_trim) without losing the others. */
function optional<T>(bind: () => T): T | undefined {
  try {
    return bind();
  } catch {
    return undefined;
  }
}
