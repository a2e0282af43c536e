// Reading an upload's body with every limit enforced while the bytes arrive: receiver.maxBytes per request
// (a Content-Length over it is refused before a byte is read; a chunked body as soon as it passes it) and
// receiver.maxInflightBytes over all requests at once (a quarter of it, or maxBytes if more, per client address).
// A body with a Content-Length takes its whole size from the budget up front (so admitted uploads can
// always finish, and the budget is never shared out in slivers); a chunked one takes each chunk as it comes.

export class TooLarge extends Error {}
export class Busy extends Error {}
class Aborted extends Error {}

/** Request body bytes held at once over all requests, and by one client address: a client (other than
 * `exempt`) holds at most `share` bytes, so one address with a few unfinished uploads cannot take it all;
 * clients other than `reserved` ones (zaiko Robot's hosts) together hold at most `max - reserve()`. */
export class InflightBudget {
  private used = 0;
  private usedByOthers = 0;
  /** Per client: bytes held, and how many of them count against the others' part (a reload may change who is reserved). */
  private readonly byClient = new Map<string, { bytes: number; others: number }>();
  constructor(
    readonly max: number,
    readonly share = max,
    private readonly exempt: (client: string) => boolean = () => true,
    private readonly reserved: { isZaikoRobot(client: string): boolean; bytes(): number } = { isZaikoRobot: () => false, bytes: () => 0 },
  ) {}
  get bytes(): number {
    return this.used;
  }
  take(n: number, client: string): boolean {
    const mine = this.byClient.get(client) ?? { bytes: 0, others: 0 };
    const other = !this.reserved.isZaikoRobot(client);
    if (this.used + n > this.max || (!this.exempt(client) && mine.bytes + n > this.share)) return false;
    if (other && this.usedByOthers + n > this.max - this.reserved.bytes()) return false;
    this.used += n;
    if (other) this.usedByOthers += n;
    this.byClient.set(client, { bytes: mine.bytes + n, others: mine.others + (other ? n : 0) });
    return true;
  }
  give(n: number, client: string): void {
    this.used -= n;
    const mine = this.byClient.get(client) ?? { bytes: n, others: 0 };
    const fromOthers = Math.min(n, mine.others);
    this.usedByOthers -= fromOthers;
    if (mine.bytes - n > 0) this.byClient.set(client, { bytes: mine.bytes - n, others: mine.others - fromOthers });
    else this.byClient.delete(client);
  }
}

export interface Body {
  bytes: Buffer;
  release(): void;
}

/** Rejects with TooLarge or Busy (answer and close), or another error when the client went away. */
export function readBody(
  req: import('node:http').IncomingMessage,
  maxBytes: number,
  budget: InflightBudget,
  client: string,
): Promise<Body> {
  return new Promise((resolve, reject) => {
    let held = 0;
    let settled = false;
    const release = () => {
      budget.give(held, client);
      held = 0;
    };
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      release();
      req.removeListener('data', onData);
      reject(err);
    };
    const header = req.headers['content-length'];
    const declared = header === undefined ? undefined : Number(header); // node's parser has checked its syntax
    let whole: Buffer | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    if (declared !== undefined) {
      if (declared > maxBytes) return fail(new TooLarge());
      if (!budget.take(declared, client)) return fail(new Busy());
      held = declared;
      whole = Buffer.allocUnsafe(declared); // its pages are only touched as the bytes arrive
    }
    function onData(c: Buffer): void {
      if (whole) {
        c.copy(whole, size); // the parser never passes more than Content-Length
        size += c.length;
        return;
      }
      size += c.length;
      if (size > maxBytes) return fail(new TooLarge());
      if (!budget.take(c.length, client)) return fail(new Busy());
      held += c.length;
      chunks.push(c);
    }
    req.on('data', onData);
    req.on('end', () => {
      if (settled) return;
      settled = true;
      resolve({ bytes: whole ? whole.subarray(0, size) : Buffer.concat(chunks, size), release });
    });
    req.on('error', fail);
    req.on('close', () => {
      if (!req.complete) fail(new Aborted('client went away'));
    });
  });
}
