// Forward once across relays: a message's local claim (ledger.db) is confirmed in Redis, where every
// relay on the same Redis sees it, before its forward may run. Asked after the accept commit (bounded,
// before the 250) and again at the start of every forward job, so no forward ever runs unconfirmed:
// with Redis unreachable the forward is held (the ledger keeps it queued) and the job, added by the
// recovery sweep once Redis is back, asks first.
import type { Queue } from 'bullmq';
import type { Logger } from '../observe/logger.js';
import type { Config } from '../config/schema.js';
import type { LedgerStore } from '../ledger/store.js';
import { BridgeError } from '../errors/codes.js';
import { RedisClaims, claimHolder, CLAIM_BOUND_MS } from '../queue/forward-claims.js';

/** `ours`: the forward may run; `other`: another message holds the order (now suppressed here); `unknown`: Redis did not answer (held). */
type ClaimVerdict = 'ours' | 'other' | 'unknown';

export class ForwardOnce {
  private readonly claims: RedisClaims;

  constructor(
    private readonly ledger: LedgerStore,
    queue: Queue,
    private readonly instance: string,
    cfg: () => Pick<Config, 'retention' | 'redis'>,
    private readonly log: Logger,
  ) {
    // A claim lives as long as the ledger keeps its row; with Sentinel it counts once a replica has it.
    this.claims = RedisClaims.overQueue(
      queue,
      () => Math.ceil(cfg().retention.mailDays * 86_400),
      () => (cfg().redis.sentinels.length ? 1 : 0),
    );
  }

  /** Confirms the message's claim in Redis; a message without a claim (forwardOnce: off) is always `ours`. */
  async confirm(qid: string, boundMs = CLAIM_BOUND_MS): Promise<ClaimVerdict> {
    const local = this.ledger.claimOf(qid);
    if (!local) return 'ours';
    const mine = claimHolder(this.instance, qid);
    let holder: string;
    try {
      holder = await this.claims.take(local.shop_id, local.claim, mine, boundMs);
    } catch (err) {
      this.log.warn(
        { qid, claim: local.claim, err: (err as Error).message },
        `${qid}: forward held: its claim ${local.claim} could not be asked in Redis; forwarded once Redis confirms it`,
      );
      return 'unknown';
    }
    if (holder === mine) return 'ours';
    const [relay, first] = splitHolder(holder);
    const reason = `forward-once: ${local.claim} already forwarded with ${first} on relay ${relay}`;
    this.ledger.suppressForward(qid, reason);
    this.log.info({ qid, claim: local.claim, holder }, `${qid}: ${reason}`);
    return 'other';
  }

  /** A released claim (the forward failed for good) goes from Redis too, if this message still holds it there. */
  async release(qid: string, shopId: string, claim: string): Promise<void> {
    await this.claims.release(shopId, claim, claimHolder(this.instance, qid)).catch((err: Error) => {
      this.log.warn(
        { qid, claim, err: err.message },
        `${qid}: claim ${claim} still held in Redis (${err.message}); it expires with retention.mailDays`,
      );
    });
  }

  /**
   * `mail resend --forward`: takes the message's claim again, locally and in Redis, or throws why not:
   * BAD_INPUT when another message holds the order, REDIS_UNAVAILABLE when Redis did not answer.
   */
  async retake(qid: string, shopId: string, claim: string): Promise<void> {
    const heldBefore = this.ledger.claimOf(qid) !== undefined;
    const local = this.ledger.retakeClaim(shopId, claim, qid);
    if (local !== qid)
      throw new BridgeError('BAD_INPUT', `${qid}: not resent: ${claim} is held by ${local} (forwarded or being forwarded)`);
    const mine = claimHolder(this.instance, qid);
    let holder: string;
    try {
      holder = await this.claims.take(shopId, claim, mine, 3000);
    } catch (err) {
      if (!heldBefore) this.ledger.dropClaim(qid);
      throw new BridgeError(
        'REDIS_UNAVAILABLE',
        `${qid}: not resent: the claim ${claim} could not be asked in Redis (${(err as Error).message})`,
      );
    }
    if (holder === mine) return;
    if (!heldBefore) this.ledger.dropClaim(qid);
    const [relay, first] = splitHolder(holder);
    throw new BridgeError('BAD_INPUT', `${qid}: not resent: ${claim} is held by ${first} on relay ${relay}`);
  }
}

function splitHolder(holder: string): [relay: string, qid: string] {
  const i = holder.lastIndexOf('/');
  return [holder.slice(0, i), holder.slice(i + 1)];
}
