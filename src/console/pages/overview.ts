// GET /: today and the last 7 days, readiness, queue depths, a per-hour chart of the last 24 hours.
import { html } from '../html.js';
import { page, badge } from '../layout.js';
import { send, type Ctx } from '../context.js';
import { hourChart } from '../chart.js';
import { mailFigures, uploadFigures, skipsByReason, perHour } from '../../queries/overview.js';
import { queueStats } from '../../queries/queues.js';
import { webhookStatus } from '../../queries/webhook.js';
import { withTimeout } from '../../observe/timeout.js';

const DAY = 86_400_000;

/** Midnight today in the console's time zone. */
function startOfToday(timeZone: string, now: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hour12: false,
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(now);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0) % 24;
  return now - ((get('hour') * 60 + get('minute')) * 60 + get('second')) * 1000 - (now % 1000);
}

async function readiness(c: Ctx) {
  const { deps } = c;
  const check = async (f: () => Promise<unknown> | unknown) => {
    try {
      await withTimeout(Promise.resolve(f()), 1000, 'check');
      return true;
    } catch {
      return false;
    }
  };
  const redis = await check(() => deps.redis.ping());
  const workers = async (i: number) => {
    try {
      return await withTimeout(deps.queues.all[i].getWorkersCount(), 1000, 'workers');
    } catch {
      return 0;
    }
  };
  return {
    redis,
    ledger: await check(() => deps.ledgerDb.prepare('SELECT 1').get()),
    stock: await check(() => deps.stockDb.prepare('SELECT 1').get()),
    mailWorkers: redis ? await workers(0) : 0,
    stockWorkers: redis ? await workers(1) : 0,
  };
}

export async function overview(c: Ctx): Promise<void> {
  const { w, deps } = c;
  const now = Date.now();
  const today = startOfToday(deps.cfg.console.timeZone, now);
  const week = today - 6 * DAY;
  const mails = [mailFigures(deps.ledgerDb, today), mailFigures(deps.ledgerDb, week)];
  const ups = [uploadFigures(deps.stockDb, today), uploadFigures(deps.stockDb, week)];
  const reasons = skipsByReason(deps.stockDb, week);
  const hours = perHour(deps.ledgerDb, deps.stockDb, now - 23 * 3_600_000, 24);
  const ready = await readiness(c);
  const hooks = webhookStatus(deps.stockDb, deps.cfg);
  let stats: Awaited<ReturnType<typeof queueStats>> | undefined;
  if (ready.redis) {
    try {
      stats = await withTimeout(queueStats(deps.queues.all), 2000, 'queue stats');
    } catch {
      stats = undefined;
    }
  }
  const card = (n: number, label: string) =>
    html`<div class="card">
      <div class="n">${n.toLocaleString('en')}</div>
      <div class="l">${label}</div>
    </div>`;
  const up = (ok: boolean, extra = '') => html`${badge(ok ? 'ok' : 'down')} ${ok ? w.t('ready') : w.t('down')}${extra}`;
  const hourLabel = (ms: number) => w.date(ms).slice(11, 16);
  const figures = (i: number) =>
    html`<div class="cards">
      ${card(mails[i].received, w.t('orderMails'))}${card(mails[i].forwarded, w.t('forwarded'))}
      ${card(mails[i].suppressed, w.t('suppressed'))}${card(mails[i].failed, w.t('failed'))}${card(ups[i].uploads, w.t('uploadsReceived'))}
      ${card(ups[i].applied, w.t('itemsApplied'))}${card(ups[i].skipped, w.t('itemsSkipped'))}
    </div>`;
  const body = html`<h2>${w.t('today')}</h2>
    ${figures(0)}
    <h2>${w.t('last7')}</h2>
    ${figures(1)}
    <h2>${w.t('perHour')}</h2>
    ${hourChart(hours, hourLabel, { mails: w.t('mailsPerHour'), items: w.t('itemsPerHour') })}
    <h2>${w.t('skippedByReason')}</h2>
    ${
      reasons.length
        ? html`<table>
            <tr>
              <th>${w.t('reason')}</th>
              <th class="num">${w.t('items')}</th>
              <th>${w.t('why')}</th>
            </tr>
            ${reasons.map(
              (r) =>
                html`<tr>
                  <td><a href="/stock?reason=${r.reason}">${r.reason}</a></td>
                  <td class="num">${r.count}</td>
                  <td>${w.reason(r.reason)}</td>
                </tr>`,
            )}
          </table>`
        : html`<p class="muted">${w.t('none')}</p>`
    }
    ${hooks.length ? webhookTable(c, hooks) : ''}
    <h2>${w.t('queueDepth')}</h2>
    ${
      stats
        ? html`<table>
            <tr>
              <th>${w.t('queue')}</th>
              <th class="num">${w.t('waiting')}</th>
              <th class="num">${w.t('active')}</th>
              <th class="num">${w.t('delayed')}</th>
              <th class="num">${w.t('failed')}</th>
            </tr>
            ${stats.map(
              (q) =>
                html`<tr>
                  <td><a href="/queues/${q.name}">${q.name}</a></td>
                  <td class="num">${q.waiting}</td>
                  <td class="num">${q.active}</td>
                  <td class="num">${q.delayed}</td>
                  <td class="num">${q.failed ? html`<a href="/queues/${q.name}?state=failed">${q.failed}</a>` : 0}</td>
                </tr>`,
            )}
          </table>`
        : html`<p class="warn">Redis: ${w.t('down')}</p>`
    }
    <h2>${w.t('readiness')}</h2>
    <dl>
      <dt>${w.t('redis')}</dt>
      <dd>${up(ready.redis)}</dd>
      <dt>${w.t('ledgerDb')}</dt>
      <dd>${up(ready.ledger)}</dd>
      <dt>${w.t('stockDb')}</dt>
      <dd>${up(ready.stock)}</dd>
      <dt>${w.t('deliveryThread')}</dt>
      <dd>${up(ready.mailWorkers > 0, ` (${ready.mailWorkers} ${w.t('workersSeen')})`)}</dd>
      <dt>${w.t('stockWorker')}</dt>
      <dd>${up(ready.stockWorkers > 0, ` (${ready.stockWorkers} ${w.t('workersSeen')})`)}</dd>
    </dl>`;
  send(c, 200, page(c, w.t('overview'), body));
}

/** A row per shop whose cart takes pushed changes: how far it is, and why not further. */
function webhookTable({ w }: Ctx, hooks: ReturnType<typeof webhookStatus>) {
  const when = (t: string | null) => (t ? w.date(Date.parse(t)) : '-');
  return html`<h2>${w.t('cartWebhook')}</h2>
    <table>
      <tr>
        <th>${w.t('shop')}</th>
        <th class="num">${w.t('deliveredThrough')}</th>
        <th class="num">${w.t('pending')}</th>
        <th>${w.t('lastAnswer')}</th>
        <th>${w.t('lastAttempt')}</th>
        <th>${w.t('nextAttempt')}</th>
        <th>${w.t('lastError')}</th>
      </tr>
      ${hooks.map(
        (h) =>
          html`<tr>
            <td>${h.shop}</td>
            <td class="num">${h.deliveredThrough ?? w.t('notStarted')}</td>
            <td class="num">${h.pending}</td>
            <td>${h.lastStatus ?? (h.lastError ? w.t('noAnswer') : '-')}</td>
            <td>${when(h.lastAttemptAt)}</td>
            <td>${when(h.nextAttemptAt)}</td>
            <td>${h.lastError ?? ''}</td>
          </tr>`,
      )}
    </table>`;
}
