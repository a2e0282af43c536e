// Reading a file someone else put in the drop folder: opened without following a symlink
// (O_NOFOLLOW) and without blocking on a FIFO (O_NONBLOCK), checked to be a regular file on the open
// descriptor (it may have been swapped since lstat), and read at most `maxBytes` + 1 bytes, so a file
// that grows while we read is refused at the limit, not after it has been read whole.
import { openSync, fstatSync, readSync, closeSync, constants, type Stats } from 'node:fs';

export class DropRefusal extends Error {}

const CHUNK = 1 << 20;

export function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'a regular file';
}

export function readRegularFile(path: string, maxBytes: number): { bytes: Buffer; stat: Stats } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new DropRefusal('a symbolic link, not a regular file');
    throw new DropRefusal(`cannot open (${code ?? (err as Error).message})`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new DropRefusal(`${kindOf(stat)}, not a regular file`);
    const tooLarge = () => new DropRefusal(`larger than receiver.maxBytes (${maxBytes} bytes)`);
    if (stat.size > maxBytes) throw tooLarge();
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, maxBytes + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw tooLarge();
      chunks.push(chunk.subarray(0, n));
    }
    return { bytes: Buffer.concat(chunks, total), stat };
  } finally {
    closeSync(fd);
  }
}
