// Files that hold mail, stock, passwords' hashes or the queue are the operator's alone (and the
// service group's, read-only): created 0640, folders 0750, whatever umask the process was started
// with. The umask is tightened once at start (it covers what SQLite, redis-server and our own writes
// create), and the files that matter most are also created with their mode given explicitly.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

export const PRIVATE_FILE_MODE = 0o640;
const PRIVATE_DIR_MODE = 0o750;
/** Bits no file or folder of ours gives: group write, anything for others. */
const NEVER = 0o027;

/** Adds NEVER to the process umask (only the main thread may set it; threads share it). */
export function tightenUmask(): void {
  if (!isMainThread) return;
  const old = process.umask(NEVER);
  process.umask(old | NEVER);
}

/** mkdir -p with 0750 for the folders it creates. */
export function makePrivateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * Creates an empty file 0640 if it does not exist yet: SQLite then gives its -wal and -shm files
 * the database file's mode.
 */
export function createPrivateFile(path: string): void {
  closeSync(openSync(path, 'a', PRIVATE_FILE_MODE));
}
