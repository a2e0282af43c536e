// /queues (counts per state) and /queues/<queue> (jobs by state, paged, with errors; retry and remove).
import { html } from '../html.js';
import { page, pager, badge, csrfField } from '../layout.js';
import { send, redirect, audit, pageNo, type Ctx } from '../context.js';
import { HttpError, type Form } from '../http.js';
import { queueStats, listJobs, retryJob, removeJob, retryAllFailed, instanceQueues, JOB_STATES } from '../../queries/queues.js';
import { formatAge } from '../../config/units.js';
import { BridgeError } from '../../errors/codes.js';

const PAGE = 50;

function knownQueue(c: Ctx): string {
  const name = c.params[0];
  if (!instanceQueues(c.deps.cfg).includes(name)) throw new HttpError(404, c.w.t('noSuchPage'));
  return name;
}

export async function queuesPage(c: Ctx): Promise<void> {
  const { w } = c;
  const stats = await queueStats(c.deps.queues.all);
  const cols = ['waiting', 'active', 'delayed', 'failed', 'completed', 'paused'] as const;
  const body = html`<table>
    <tr>
      <th>${w.t('queue')}</th>
      ${cols.map((k) => html`<th class="num">${w.t(k)}</th>`)}
      <th>${w.t('oldestWaiting')}</th>
    </tr>
    ${stats.map(
      (q) =>
        html`<tr>
          <td><a href="/queues/${q.name}">${q.name}</a></td>
          ${cols.map((k) => html`<td class="num">${q[k] ? html`<a href="/queues/${q.name}?state=${k}">${q[k]}</a>` : 0}</td>`)}
          <td>${q.oldestWaitingMs === null ? '-' : formatAge(q.oldestWaitingMs)}</td>
        </tr>`,
    )}
  </table>`;
  send(c, 200, page(c, w.t('queues'), body));
}

export async function queuePage(c: Ctx): Promise<void> {
  const { w } = c;
  const name = knownQueue(c);
  const stateParam = c.url.searchParams.get('state') || undefined;
  const state = stateParam && (JOB_STATES as readonly string[]).includes(stateParam) ? stateParam : undefined;
  const n = pageNo(c);
  const jobs = await listJobs(c.deps.queues.get(name), state, PAGE + 1, (n - 1) * PAGE);
  const done = c.url.searchParams.get('done');
  const action = (path: string, id: string, label: string, danger = false) =>
    html`<form method="post" action="/queues/${name}/${path}" class="inline">
      ${csrfField(c)} <input type="hidden" name="id" value="${id}" /><button type="submit" class="${danger ? 'danger' : ''}">
        ${label}
      </button>
    </form>`;
  const body = html`${done ? html`<p class="done">${done}</p>` : ''}
    <form class="filter" method="get" action="/queues/${name}">
      <label
        >${w.t('state')}<select name="state">
          <option value="">${w.t('any')}</option>
          ${JOB_STATES.map((s) => html`<option${s === state ? html` selected` : ''}>${s}</option>`)}
        </select></label
      ><button type="submit">${w.t('filter')}</button>
    </form>
    <form method="post" action="/queues/${name}/retry-all" class="inline">
      ${csrfField(c)}<button type="submit">${w.t('retryAll')}</button>
    </form>
    <table>
      <tr>
        <th>${w.t('job')}</th>
        <th>${w.t('state')}</th>
        <th>${w.t('created')}</th>
        <th class="num">${w.t('attempts')}</th>
        <th>${w.t('nextAttempt')}</th>
        <th>${w.t('lastError')}</th>
        <th>${w.t('actions')}</th>
      </tr>
      ${jobs.slice(0, PAGE).map(
        (j) =>
          html`<tr>
            <td>${j.id}</td>
            <td>${badge(j.state)}</td>
            <td>${w.date(j.createdAt)}</td>
            <td class="num">${j.attempts}</td>
            <td>${w.date(j.nextAttemptAt)}</td>
            <td>${j.lastError ?? ''}</td>
            <td>
              ${j.state === 'failed' ? action('retry', String(j.id), w.t('retry')) : ''}
              ${action('remove', String(j.id), w.t('remove'), true)}
            </td>
          </tr>`,
      )}
    </table>
    ${jobs.length === 0 ? html`<p class="muted">${w.t('none')}</p>` : ''}${pager(c, n, jobs.length > PAGE)}`;
  send(c, 200, page(c, `${w.t('queue')} ${name}`, body));
}

async function act(c: Ctx, what: () => Promise<string>): Promise<void> {
  const name = knownQueue(c);
  try {
    const message = await what();
    redirect(c, `/queues/${name}?done=${encodeURIComponent(message)}`);
  } catch (err) {
    if (err instanceof BridgeError) throw new HttpError(err.code === 'NOT_FOUND' ? 404 : 400, err.message);
    throw err;
  }
}

export async function retryPost(c: Ctx, form: Form): Promise<void> {
  const id = form.get('id') ?? '';
  await act(c, async () => {
    await retryJob(c.deps.queues, id);
    audit(c, 'queue retry', { job: id });
    return `${id}: ${c.w.t('retried')}`;
  });
}

export async function removePost(c: Ctx, form: Form): Promise<void> {
  const id = form.get('id') ?? '';
  await act(c, async () => {
    await removeJob(c.deps.queues, id);
    audit(c, 'queue remove', { job: id });
    return `${id}: ${c.w.t('removed')}`;
  });
}

export async function retryAllPost(c: Ctx): Promise<void> {
  await act(c, async () => {
    const n = await retryAllFailed(c.deps.queues.get(c.params[0]));
    audit(c, 'queue retry --all-failed', { queue: c.params[0], jobs: n });
    return `${n} ${c.w.t('retried')}`;
  });
}
