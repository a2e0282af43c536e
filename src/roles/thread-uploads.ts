// Under `start`, the receiver's upload endpoint as seen from the main thread: the body (read here, with
// every limit enforced while it arrived, and still counted in receiver.maxInflightBytes until the answer)
// is handed to the stock thread without a copy, and its answer comes back to be written. A 200,000-item
// upload's parse, password check and store ran here before and held SMTP answers 596–720 ms (bench/README.md).
//
// When the thread dies with uploads in it, each gets `NG unavailable` (503, as for a store that failed):
// none is sent again, so none is stored twice. One already stored is applied by the sweep when the thread
// is back (the next upload carries the same figures anyway). While the thread is down a new upload waits
// for it up to UP_WAIT_MS (a restart's first delay is 1 s), then gets the same answer.
//
// While a big upload is in the thread (its store, apply and their checkpoints write tens of MB to stock.db),
// this thread paces the flushes of stock.db (db/flush-pacer.ts), so an SMTP answer's fsync waits behind a few MB.
import type { FlushPacer } from '../db/flush-pacer.js';
import type { Metrics } from '../observe/metrics.js';
import { ngAnswer } from '../errors/codes.js';
import { figuresOf, type Answer, type Uploads } from '../stock/receive/upload-handler.js';
import type { StockThread, StockThreadMessage } from './stock-thread.js';

const UP_WAIT_MS = 5_000;
/** A scrape does not wait longer than this for the thread's late-apply figures. */
const COUNT_WAIT_MS = 1_000;
/** A body from this size on (~16,000 items) writes enough to pace; the cart's usual uploads are far smaller. */
const PACED_BODY_BYTES = 1 << 20;

const unavailable = (): Answer => ({ ...ngAnswer('STOCK_UNAVAILABLE'), charset: 'utf-8' });

/** The body's own memory to hand over: a small body in Node's shared Buffer pool is copied out of it
 * (handing over the pool would take other Buffers' bytes with it). A big one is its own already. */
function ownMemory(bytes: Buffer): ArrayBuffer {
  const whole = bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return whole ? (bytes.buffer as ArrayBuffer) : new Uint8Array(bytes).buffer;
}

export class ThreadUploads implements Uploads {
  private nextId = 0;
  private readonly answers = new Map<number, (answer: Answer) => void>();
  private readonly counts = new Map<number, () => void>();
  private readonly figures;

  constructor(
    private readonly thread: StockThread,
    private readonly metrics?: Metrics,
    private readonly pacer?: FlushPacer,
  ) {
    this.figures = metrics && figuresOf(metrics);
    thread.attach({ message: (m) => this.message(m), exited: () => this.exited() });
  }

  /** Uploads handed to the thread and not answered yet. */
  get inflight(): number {
    return this.answers.size;
  }

  async handle(body: Buffer, contentType: string | undefined, client: string): Promise<Answer> {
    if (!(await this.thread.whenUp(UP_WAIT_MS))) return this.lost();
    const release = body.length >= PACED_BODY_BYTES ? this.pacer?.hold() : undefined;
    try {
      return await this.inThread(body, contentType, client);
    } finally {
      release?.();
    }
  }

  private async inThread(body: Buffer, contentType: string | undefined, client: string): Promise<Answer> {
    const id = ++this.nextId;
    const memory = ownMemory(body);
    const answer = new Promise<Answer>((resolve) => this.answers.set(id, resolve));
    if (!this.thread.post({ type: 'upload', id, body: memory, contentType, client }, [memory])) {
      this.answers.delete(id);
      return this.lost();
    }
    return answer;
  }

  countRefused(answer: 'too_large' | 'busy'): void {
    this.figures?.answered(answer);
  }

  async countLateApplies(): Promise<void> {
    const id = ++this.nextId;
    let timer: NodeJS.Timeout | undefined;
    const counted = new Promise<void>((resolve) => {
      this.counts.set(id, resolve);
      timer = setTimeout(resolve, COUNT_WAIT_MS);
    });
    if (this.thread.post({ type: 'count-late', id })) await counted;
    clearTimeout(timer);
    this.counts.delete(id);
  }

  private message(m: StockThreadMessage): void {
    if (m.type === 'answer') {
      this.answers.get(m.id)?.(m.answer);
      this.answers.delete(m.id);
    } else if (m.type === 'counted') this.counts.get(m.id)?.();
    else if (m.type === 'answered') this.figures?.answered(m.answer, m.seconds);
    else if (m.type === 'items') this.figures?.items(m.outcome, m.reason, m.count);
  }

  /** The thread ended: what was in it is answered unavailable. */
  private exited(): void {
    const waiting = [...this.answers.values()];
    this.answers.clear();
    for (const resolve of waiting) resolve(this.lost());
    for (const resolve of this.counts.values()) resolve();
  }

  private lost(): Answer {
    this.figures?.answered('unavailable');
    return unavailable();
  }
}
