// The Workflows page (`#/workflows`, docs/workflows.md): the seed's Workflow Monitoring System.
// Every workflow engine IZA follows (degraded first) with its verdict by the manifest's rules,
// then its workflows, failing first: runs, success rate and p95 duration over 1h, 24h and 7d,
// the last error with its node and a link to the execution in the engine's own UI, and a
// "Retry" button on a failing workflow's last failed execution (it carries the API token,
// token.js: refused once, the token is asked for, then pressed again). The page reloads every
// ten seconds, and when an engine's status changes.

import { api } from '../api.js';
import { live } from '../live.js';
import { h, timeEl, ago, serviceHref, failure, badge, rich, setRich } from '../dom.js';
import { savedToken, tokenPrompt } from '../token.js';

export const title = () => 'Workflows';

const WINDOWS = ['1h', '24h', '7d'];
/** Healthy workflows shown per engine before "Show all". */
const HEALTHY_SHOWN = 50;
const RELOAD_MS = 10_000;

function rate(value) {
  if (value == null) return '—';
  return `${(value * 100).toFixed(1)} %`;
}

function duration(value) {
  if (value == null) return '—';
  return value < 1000 ? `${value} ms` : `${(value / 1000).toFixed(value < 10_000 ? 2 : 1)} s`;
}

/** The engine's verdict as a status badge (`ok` shows as up). */
function engineBadge(engine) {
  return badge(engine.status === 'degraded' ? 'degraded' : 'up');
}

export function render(main, _params, query) {
  main.classList.add('wide');
  const message = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite', id: 'workflows-message' });
  const form = tokenPrompt('workflows-token-input', () => { form.hidden = true; message.textContent = 'Token saved for this tab; press Retry again.'; });
  form.hidden = true;
  const failingOnly = h('input', { type: 'checkbox', id: 'workflows-failing', checked: query?.get('failing') === 'true' });
  const body = h('div', { id: 'workflows-body' }, h('p', { class: 'muted' }, 'Loading…'));
  const expanded = new Set();
  main.append(
    h('h1', null, 'Workflows'),
    h('p', { class: 'muted' }, 'The workflow engines IZA follows (n8n, Activepieces): each workflow’s runs, success rate and p95 duration ',
      'over the last hour, day and week, failing ones first. A failing workflow makes its engine degraded.'),
    h('div', { class: 'toolbar' }, h('label', null, failingOnly, ' Failing workflows only')),
    h('div', { class: 'run-now' }, form, message),
    body,
  );
  let closed = false;
  failingOnly.addEventListener('change', () => load());

  async function retry(engine, workflow) {
    const failed = workflow.last_failure;
    const what = `Retrying execution ${failed.execution_id} of “${workflow.name}”`;
    message.textContent = `${what}…`;
    try {
      const answer = await api.retryExecution(engine.service, failed.execution_id, savedToken());
      message.textContent = `${what}: the engine started execution ${answer.execution.id} (${answer.execution.status}).`;
      load();
    } catch (e) {
      if (e.status === 401) {
        setRich(message, `Refused: ${e.reason ?? e.message}. Enter the API token (\`iza token\` prints it).`);
        form.hidden = false;
        form.querySelector('input').focus();
      } else {
        setRich(message, `${what} failed: ${e.message}`);
      }
    }
  }

  /** The last error with its node, time and link; `marked` puts the execution id on the link
   *  (the column's copy; the phone's copy under the name has none). */
  function lastError(engine, w, marked = true) {
    const f = w.last_failure;
    if (!f) return h('span', { class: 'muted' }, '—');
    return h('span', { class: 'wf-error' },
      h('span', { class: 'wf-message' }, rich(f.message)),
      f.node ? [' in ', h('code', null, f.node)] : null, ' ',
      h('span', { class: 'muted' }, timeEl(f.at), ' · '),
      w.last_failure_url
        ? h('a', { href: w.last_failure_url, target: '_blank', rel: 'noopener noreferrer', 'aria-label': `Execution ${f.execution_id} in ${engine.engine}’s UI`, dataset: marked ? { execution: f.execution_id } : null },
          `execution ${f.execution_id} ↗`)
        : `execution ${f.execution_id}`);
  }

  function row(engine, w) {
    const cells = [];
    for (const key of WINDOWS) {
      const win = w.windows?.[key] ?? {};
      // On a phone: runs and success rate of the last hour only.
      const narrow = key !== '1h' ? ' hide-narrow' : '';
      cells.push(
        h('td', { class: `num${narrow}`, dataset: { runs: key } }, String(win.runs ?? 0)),
        h('td', { class: `num${narrow}`, dataset: { rate: key } }, rate(win.success_rate)),
        h('td', { class: 'num hide-narrow', dataset: { p95: key } }, duration(win.p95_ms)));
    }
    const canRetry = w.failing && w.last_failure;
    return h('tr', { class: w.failing ? 'wf-failing' : null, dataset: { workflow: w.id, failing: String(w.failing) } },
      h('th', { scope: 'row' },
        w.failing ? badge('degraded') : null, ' ', w.name,
        w.active ? null : h('span', { class: 'muted' }, ' (inactive)'),
        w.failing && w.reasons?.length ? h('div', { class: 'muted wf-reasons' }, rich(w.reasons.join('; '))) : null,
        // On a phone the error goes under the name (its column gives way).
        w.last_failure ? h('div', { class: 'wf-narrow-only' }, lastError(engine, w, false)) : null),
      cells,
      h('td', { class: 'hide-narrow' }, lastError(engine, w)),
      h('td', null, canRetry
        ? h('button', { type: 'button', class: 'button small', dataset: { retry: w.last_failure.execution_id },
          'aria-label': `Retry execution ${w.last_failure.execution_id} of ${w.name}`, onclick: () => retry(engine, w) }, 'Retry')
        : null));
  }

  function engineSection(engine) {
    const workflows = engine.workflows ?? [];
    const failing = workflows.filter((w) => w.failing);
    const healthy = workflows.filter((w) => !w.failing);
    const all = expanded.has(engine.service);
    const shown = all ? healthy : healthy.slice(0, HEALTHY_SHOWN);
    const follower = engine.follower;
    const head = h('tr', null,
      h('th', { scope: 'col' }, 'Workflow'),
      WINDOWS.map((key) => [
        h('th', { scope: 'col', class: `num${key !== '1h' ? ' hide-narrow' : ''}` }, `Runs ${key}`),
        h('th', { scope: 'col', class: `num${key !== '1h' ? ' hide-narrow' : ''}` }, `OK ${key}`),
        h('th', { scope: 'col', class: 'num hide-narrow' }, `p95 ${key}`)]),
      h('th', { scope: 'col', class: 'hide-narrow' }, 'Last error'),
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')));
    return h('section', { class: 'panel section wf-engine', dataset: { engine: engine.service, status: engine.status }, 'aria-labelledby': `h-wf-${engine.service}` },
      h('h2', { id: `h-wf-${engine.service}` }, engineBadge(engine), ' ',
        h('a', { href: serviceHref(engine.service) }, engine.name ?? engine.service),
        h('span', { class: 'muted' }, ` — ${engine.engine}, `, h('a', { href: engine.ui_url, target: '_blank', rel: 'noopener noreferrer' }, engine.ui_url))),
      h('p', { class: 'wf-verdict' }, rich(engine.message)),
      h('p', { class: 'muted' }, `${engine.workflows_known} workflows, ${engine.failing} failing. `,
        follower
          ? [`Last sync `, timeEl(follower.at), ` (${ago(follower.at)})`, follower.caught_up ? '' : ', still reading history',
            follower.error ? h('span', { class: 'wf-sync-error' }, '; the last round failed: ', rich(follower.error)) : null]
          : 'Not followed by this server yet.'),
      workflows.length
        ? h('div', { class: 'table-wrap' }, h('table', { class: 'data wf-table' },
          h('caption', { class: 'visually-hidden' }, `Workflows of ${engine.service}, failing first`),
          h('thead', null, head),
          h('tbody', null, failing.map((w) => row(engine, w)), shown.map((w) => row(engine, w)))))
        : h('p', { class: 'muted' }, failingOnly.checked ? 'No workflow is failing.' : 'No workflow seen yet.'),
      !all && healthy.length > shown.length
        ? h('p', null, h('button', { type: 'button', class: 'button small secondary', dataset: { showAll: engine.service },
          onclick: () => { expanded.add(engine.service); load(); } }, `Show all ${healthy.length} healthy workflows`))
        : null);
  }

  async function load() {
    let doc;
    try {
      doc = await api.workflows({ failing: failingOnly.checked });
    } catch (e) {
      if (!closed) body.replaceChildren(failure('the workflows', e));
      return;
    }
    if (closed) return;
    const engines = doc.engines ?? [];
    body.replaceChildren(engines.length
      ? h('div', null, engines.map(engineSection))
      : h('p', { class: 'muted' }, 'No service of this manifest follows a workflow engine (a `workflows` table; see docs/workflows.md).'));
  }

  const engineIds = () => new Set([...body.querySelectorAll('[data-engine]')].map((el) => el.dataset.engine));
  let timer = null;
  const unsubscribe = live.subscribe((change) => {
    if (change.type !== 'event') return;
    const e = change.event;
    if (e.kind !== 'status-changed' || !engineIds().has(e.service)) return;
    clearTimeout(timer);
    timer = setTimeout(() => { if (!closed) load(); }, 300);
  });
  const every = setInterval(() => { if (!closed) load(); }, RELOAD_MS);
  load();
  return () => { closed = true; clearTimeout(timer); clearInterval(every); unsubscribe(); };
}
