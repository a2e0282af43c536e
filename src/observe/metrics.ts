// Prometheus metrics: one registry per process, every name prefixed zaiko_bridge_, the default process
// metrics included, labelled counters initialised at 0 for their known labels so dashboards see them.
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';
import type { Queue } from 'bullmq';
import { withTimeout } from './timeout.js';
import { SKIP_REASONS } from '../errors/skip-reasons.js';

const P = 'zaiko_bridge_';
export const REJECT_REASONS = ['relay_denied', 'auth_failed', 'too_big', 'too_many_recipients', 'loop', 'not_stored'] as const;
const UPLOAD_ANSWERS = ['OK', 'NG', 'auth_error', 'no_query', 'bad_request', 'too_large', 'unavailable', 'busy'] as const;
const SUPERVISED_WORKERS = ['stock', 'delivery'] as const;
const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'paused'] as const;

export class Metrics {
  readonly registry = new Registry();
  readonly messagesAccepted = new Counter({
    name: `${P}messages_accepted_total`,
    help: 'Messages acknowledged with 250',
    registers: [this.registry],
  });
  readonly messagesRejected = new Counter({
    name: `${P}messages_rejected_total`,
    help: 'Commands or messages refused, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly deliveries = new Counter({
    name: `${P}deliveries_total`,
    help: 'Recipient delivery attempts by job kind (deliver, forward) and outcome',
    labelNames: ['kind', 'outcome'],
    registers: [this.registry],
  });
  readonly forwardsSuppressed = new Counter({
    name: `${P}forward_once_suppressed_total`,
    help: 'Order mails delivered but not forwarded (forward-once)',
    registers: [this.registry],
  });
  readonly uploads = new Counter({
    name: `${P}uploads_total`,
    help: 'Stock uploads answered, by answer',
    labelNames: ['answer'],
    registers: [this.registry],
  });
  readonly uploadItems = new Counter({
    name: `${P}upload_items_total`,
    help: 'Upload items applied or skipped, by reason',
    labelNames: ['outcome', 'reason'],
    registers: [this.registry],
  });
  readonly acceptSeconds = new Histogram({
    name: `${P}accept_seconds`,
    help: 'DATA end to 250: spool, fsync, classify, ledger commit, enqueue',
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly uploadSeconds = new Histogram({
    name: `${P}upload_answer_seconds`,
    help: 'Upload request body received to answer (store, enqueue, apply wait)',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly workerRecreated = new Counter({
    name: `${P}worker_recreated_total`,
    help: 'Queue workers found not polling and made anew (BullMQ #4378)',
    labelNames: ['worker'],
    registers: [this.registry],
  });
  readonly workerRestarts = new Counter({
    name: `${P}worker_restarts_total`,
    help: 'Workers started again under start after they died (stock: the worker process; delivery: the relay thread)',
    labelNames: ['worker'],
    registers: [this.registry],
  });
  readonly configReloadLastSuccess = new Gauge({
    name: `${P}config_reload_last_success_timestamp_seconds`,
    help: 'When the config file was last reloaded with success (SIGHUP); 0: never since start',
    registers: [this.registry],
  });
  readonly configReloadFailures = new Counter({
    name: `${P}config_reload_failures_total`,
    help: 'Reloads refused because the config file was unreadable or invalid (the running config stayed)',
    registers: [this.registry],
  });
  private readonly queues: Queue[] = [];

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: P });
    for (const reason of REJECT_REASONS) this.messagesRejected.inc({ reason }, 0);
    for (const kind of ['deliver', 'forward'])
      for (const outcome of ['sent', 'deferred', 'failed']) this.deliveries.inc({ kind, outcome }, 0);
    for (const answer of UPLOAD_ANSWERS) this.uploads.inc({ answer }, 0);
    for (const worker of ['mail', 'stock']) this.workerRecreated.inc({ worker }, 0);
    for (const worker of SUPERVISED_WORKERS) this.workerRestarts.inc({ worker }, 0);
    this.uploadItems.inc({ outcome: 'applied', reason: '' }, 0);
    for (const reason of SKIP_REASONS) this.uploadItems.inc({ outcome: 'skipped', reason }, 0);
    const queues = this.queues;
    new Gauge({
      name: `${P}queue_jobs`,
      help: 'Jobs per queue and state (read at scrape)',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        for (const q of queues) {
          try {
            const counts = await withTimeout(q.getJobCounts(...QUEUE_STATES), 1000, 'job counts');
            for (const state of QUEUE_STATES) this.set({ queue: q.name, state }, counts[state] ?? 0);
          } catch {
            /* Redis down: the gauge keeps its last values; /readyz says why */
          }
        }
      },
    });
  }

  watchQueue(queue: Queue): void {
    this.queues.push(queue);
  }

  /**
   * The cart webhook, per shop, read from stock.db at scrape: the pusher runs in the worker process and
   * keeps its counts there (durable, so they survive its restarts and read the same from any process).
   */
  watchWebhooks(read: () => WebhookMetricFigures[]): void {
    let figures: WebhookMetricFigures[] = [];
    new Counter({
      name: `${P}webhook_batches_total`,
      help: 'Webhook batches sent to the cart, by shop and outcome (delivered: 2xx; rejected: another status; failed: no answer)',
      labelNames: ['shop', 'outcome'],
      registers: [this.registry],
      collect() {
        // Registered first, so collected first in a scrape: the two gauges below use the same figures.
        try {
          figures = read();
        } catch {
          /* stock.db unreadable: the last figures stay; /readyz says why */
        }
        this.reset();
        for (const f of figures) for (const [outcome, n] of Object.entries(f.batches)) this.inc({ shop: f.shop, outcome }, n);
      },
    });
    new Gauge({
      name: `${P}webhook_pending_changes`,
      help: 'Changes not yet delivered to the cart, per shop',
      labelNames: ['shop'],
      registers: [this.registry],
      collect() {
        for (const f of figures) this.set({ shop: f.shop }, f.pending);
      },
    });
    new Gauge({
      name: `${P}webhook_last_success_timestamp_seconds`,
      help: 'When the cart last answered 2xx, per shop (0: never)',
      labelNames: ['shop'],
      registers: [this.registry],
      collect() {
        for (const f of figures) this.set({ shop: f.shop }, f.lastSuccessAt ? f.lastSuccessAt / 1000 : 0);
      },
    });
  }
}

/** One shop's webhook figures, as queries/webhook.ts reads them. */
export interface WebhookMetricFigures {
  shop: string;
  pending: number;
  lastSuccessAt: number | null;
  batches: Record<'delivered' | 'rejected' | 'failed', number>;
}
