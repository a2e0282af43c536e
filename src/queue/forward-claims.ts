// Forward-once across relays: an order's claim is also one Redis key that every relay on this Redis
// sees, taken atomically (the first holder wins). The local ledger keeps its own row as the record.
import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import { withTimeout } from '../observe/timeout.js';
import { queueConnected } from './redis.js';

/** Takes the key when free (with a TTL); answers the holder either way. KEYS[1] key; ARGV holder, ttl seconds. */
const TAKE = `local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return ARGV[1]`;
/** Deletes the key only while `holder` holds it (a released claim never frees another relay's). */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export const CLAIM_BOUND_MS = 1000;

/** `<instance>/<queue id>`: names the message holding a claim, and on which relay. */
export const claimHolder = (instance: string, qid: string) => `${instance}/${qid}`;

export class RedisClaims {
  /**
   * `client`: the Redis connection to ask (a queue's); `ttlSeconds`: how long a claim lives (the
   * ledger keeps its rows retention.mailDays, so does Redis; read at each take, so a reload counts).
   */
  constructor(
    private readonly client: () => Promise<Redis>,
    private readonly prefix: string,
    private readonly ttlSeconds: () => number,
    private readonly connected: () => boolean = () => true,
  ) {}

  /** Claims asked over a queue's own connection (under the queue's prefix). */
  static overQueue(queue: Queue, ttlSeconds: () => number): RedisClaims {
    return new RedisClaims(
      () => queue.client as unknown as Promise<Redis>,
      queue.opts.prefix ?? 'bull',
      ttlSeconds,
      () => queueConnected(queue),
    );
  }

  key(shopId: string, claim: string): string {
    return `${this.prefix}:forward-claim:${shopId}:${claim}`;
  }

  /** Takes the claim for `holder` unless held; resolves to who holds it now. Rejects when Redis does not answer in time. */
  take(shopId: string, claim: string, holder: string, boundMs = CLAIM_BOUND_MS): Promise<string> {
    if (!this.connected()) return Promise.reject(new Error('forward claim: Redis is not connected'));
    const asked = this.client().then((r) => r.eval(TAKE, 1, this.key(shopId, claim), holder, this.ttlSeconds()) as Promise<string>);
    return withTimeout(asked, boundMs, 'forward claim');
  }

  /** Gives the claim back if `holder` still holds it; resolves to whether it did. */
  async release(shopId: string, claim: string, holder: string, boundMs = CLAIM_BOUND_MS): Promise<boolean> {
    const asked = this.client().then((r) => r.eval(RELEASE, 1, this.key(shopId, claim), holder) as Promise<number>);
    return (await withTimeout(asked, boundMs, 'forward claim release')) === 1;
  }
}
