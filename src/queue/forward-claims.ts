// Forward-once across relays: an order's claim is also one Redis key that every relay on this Redis
// sees, taken atomically (the first holder wins). The local ledger keeps its own row as the record.
import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import { withTimeout } from '../observe/timeout.js';
import { queueConnected } from './redis.js';

/**
 * Takes the key when free (with a TTL); answers the holder either way. KEYS[1] key; ARGV holder, ttl
 * seconds. A key already ours gets its TTL again: a write of this connection, so a WAIT after it also
 * covers the first SET, made on another connection (the accept's, before its WAIT ran out).
 */
const TAKE = `local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return held end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return ARGV[1]`;
/** Deletes the key only while `holder` holds it (a released claim never frees another relay's). */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export const CLAIM_BOUND_MS = 1000;
/** With replicas to wait for: how long WAIT may hold the connection (a replica answers in well under 1 ms on a LAN). */
const REPLICA_WAIT_MS = 500;

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
    private readonly replicas: () => number = () => 0,
  ) {}

  /**
   * Claims asked over a queue's own connection (under the queue's prefix); `replicas`: how many replicas
   * must have a claim before it counts (Sentinel: 1, so a failover cannot lose it; see docs/SCALING.md).
   */
  static overQueue(queue: Queue, ttlSeconds: () => number, replicas: () => number = () => 0): RedisClaims {
    return new RedisClaims(
      () => queue.client as unknown as Promise<Redis>,
      queue.opts.prefix ?? 'bull',
      ttlSeconds,
      () => queueConnected(queue),
      replicas,
    );
  }

  key(shopId: string, claim: string): string {
    return `${this.prefix}:forward-claim:${shopId}:${claim}`;
  }

  /** Takes the claim for `holder` unless held; resolves to who holds it now. Rejects when Redis does not answer in time. */
  take(shopId: string, claim: string, holder: string, boundMs = CLAIM_BOUND_MS): Promise<string> {
    if (!this.connected()) return Promise.reject(new Error('forward claim: Redis is not connected'));
    const asked = this.client().then(async (r) => {
      const held = (await r.eval(TAKE, 1, this.key(shopId, claim), holder, this.ttlSeconds())) as string;
      const replicas = this.replicas();
      // Asynchronous replication: a claim only the master has dies with it in a failover. Not confirmed
      // until a replica has it; the forward waits (the relay asks again later) instead.
      if (held === holder && replicas > 0 && (await r.wait(replicas, REPLICA_WAIT_MS)) < replicas) {
        throw new Error(`forward claim: not on ${replicas} replica(s) within ${REPLICA_WAIT_MS} ms`);
      }
      return held;
    });
    return withTimeout(asked, boundMs, 'forward claim');
  }

  /** Gives the claim back if `holder` still holds it; resolves to whether it did. */
  async release(shopId: string, claim: string, holder: string, boundMs = CLAIM_BOUND_MS): Promise<boolean> {
    const asked = this.client().then((r) => r.eval(RELEASE, 1, this.key(shopId, claim), holder) as Promise<number>);
    return (await withTimeout(asked, boundMs, 'forward claim release')) === 1;
  }
}
