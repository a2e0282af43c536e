// Standard Webhooks 1.0 signing: HMAC-SHA256 over "<id>.<timestamp>.<body>" with the secret's key,
// sent as "v1,<base64>". The cart checks it with the same secret (the standardwebhooks package, or
// the PHP example in examples/cart-webhook/).
import { createHmac } from 'node:crypto';

/** The `webhook-signature` header value for one attempt. */
export function signature(key: Buffer, id: string, timestampS: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampS}.${body}`).digest('base64')}`;
}

/** `<shop>-<firstId>-<lastId>`: the same for every attempt of one batch, so the cart can tell a repeat. */
export const webhookId = (shop: string, firstId: number, lastId: number) => `${shop}-${firstId}-${lastId}`;
