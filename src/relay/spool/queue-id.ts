// Queue ids: time-ordered, unique, uppercase base36 with a leading letter (never all digits, no ':').
import { randomBytes } from 'node:crypto';

export function newQueueId(now = Date.now()): string {
  const time = now.toString(36).toUpperCase().padStart(9, '0');
  const rand = randomBytes(5).readUIntBE(0, 5).toString(36).toUpperCase().padStart(8, '0');
  return `Q${time}${rand}`;
}
