// Queue ids: time-ordered, unique, uppercase base36 with a leading letter (never all digits, no ':').
import { randomBytes } from 'node:crypto';

// Random bytes are drawn 4 KiB at a time: one randomBytes call per id cost ~35 µs under load.
const POOL_BYTES = 4096;
let pool = randomBytes(POOL_BYTES);
let offset = 0;

export function newQueueId(now = Date.now()): string {
  if (offset + 5 > POOL_BYTES) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const rand = pool.readUIntBE(offset, 5);
  offset += 5;
  return `Q${now.toString(36).toUpperCase().padStart(9, '0')}${rand.toString(36).toUpperCase().padStart(8, '0')}`;
}
