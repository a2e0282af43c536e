// The Redis side of forward-once (src/queue/forward-claims.ts) against a real Redis: the first holder
// wins and keeps it, a release frees only the holder's own claim, and with replicas to wait for a claim
// that no replica has is not confirmed (the relay holds the forward; a failover could lose the claim).
import { describe, it, expect, afterAll, inject } from 'vitest';
import { Redis } from 'ioredis';
import { RedisClaims } from '../../src/queue/forward-claims.js';
import { uniqueName } from '../helpers/env.js';

const client = new Redis(inject('redisUrl'));
afterAll(() => client.disconnect());
const prefix = uniqueName('fc');
const claims = (replicas = 0) =>
  new RedisClaims(
    async () => client,
    prefix,
    () => 3600,
    () => true,
    () => replicas,
  );

describe('RedisClaims', () => {
  it('the first holder wins; asking again as the holder keeps it; release frees only its own', async () => {
    const c = claims();
    expect(await c.take('shop', 'order:1', 'relay-a/Q1')).toBe('relay-a/Q1');
    expect(await c.take('shop', 'order:1', 'relay-b/Q2')).toBe('relay-a/Q1');
    expect(await c.take('shop', 'order:1', 'relay-a/Q1')).toBe('relay-a/Q1');
    expect(await client.ttl(c.key('shop', 'order:1'))).toBeGreaterThan(3500);
    expect(await c.release('shop', 'order:1', 'relay-b/Q2')).toBe(false);
    expect(await c.release('shop', 'order:1', 'relay-a/Q1')).toBe(true);
    expect(await c.take('shop', 'order:1', 'relay-b/Q2')).toBe('relay-b/Q2');
  });

  it('with a replica to wait for and none there, a claim is not confirmed (WAIT 1 answered 0)', async () => {
    const c = claims(1);
    await expect(c.take('shop', 'order:2', 'relay-a/Q1')).rejects.toThrow('forward claim: not on 1 replica(s) within 500 ms');
    // Another relay still finds it held: a claim not confirmed is never taken by a second one meanwhile.
    expect(await claims(0).take('shop', 'order:2', 'relay-b/Q2')).toBe('relay-a/Q1');
  });
});
