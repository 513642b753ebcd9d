// The pieces of the agents' work that the Execution page and a service's page both draw: a
// run's state badge, the tasks table with its "Run now" buttons, the runs table with output
// tails, an incident's escalation chain. "Run now" needs the API token like the process
// panel's buttons (token.js): refused once (401), the token is asked for, then pressed again.
// Words and numbers come from agents.js; this module only builds elements.

import { api } from '../api.js';
import { h, timeEl, rich, setRich } from '../dom.js';
import { savedToken, tokenPrompt } from '../token.js';
import {
  runGlyph, runWord, runColour, priorityWord, duration, runDuration, until, tail, lastLine,
  triggerText, runTriggerText, chainSteps, chainText, outcomeWord, rate,
} from '../agents.js';

/** A run's state: glyph, word and colour. */
export function runBadge(state) {
  return h('span', { class: `badge st-${runColour(state)}`, dataset: { runState: state } },
    h('span', { 'aria-hidden': 'true' }, runGlyph(state)), runWord(state));
}

export function priorityBadge(priority) {
  return h('span', { class: `prio prio-${priority}` }, priorityWord(priority));
}

/** The "Run now" machinery of one page: `{ element, button(task) }`. `element` holds the
 *  message line and the token form; each button queues a run of its task. */
export function runNow(formId) {
  const message = h('p', { class: 'muted run-message', role: 'status', 'aria-live': 'polite' });
  const form = tokenPrompt(formId, () => { form.hidden = true; message.textContent = 'Token saved for this tab; press Run now again.'; });
  form.hidden = true;
  const element = h('div', { class: 'run-now' }, form, message);
  const button = (task) => {
    const b = h('button', {
      type: 'button', class: 'button small', dataset: { runTask: task.key },
      'aria-label': `Run ${task.key} now`,
    }, 'Run now');
    b.addEventListener('click', async () => {
      b.disabled = true;
      message.textContent = `Queueing a run of ${task.key}…`;
      try {
        const run = await api.runNow(task.key, savedToken());
        message.textContent = `Queued run #${run.id} of ${task.key}.`;
      } catch (e) {
        if (e.status === 401) {
          setRich(message, `Refused: ${e.reason ?? e.message}. Enter the API token (\`iza token\` prints it).`);
          form.hidden = false;
          form.querySelector('input').focus();
        } else {
          setRich(message, `Could not run ${task.key}: ${e.message}`);
        }
      } finally {
        b.disabled = false;
      }
    });
    return b;
  };
  return { element, button };
}

/** Every task in a table: priority, trigger, next run, figures of the last day, the last
 *  result; a "Run now" button on each runnable task when `button` is given. */
export function tasksTable(tasks, { id, button, now = Date.now(), caption }) {
  if (!tasks.length) return h('p', { class: 'muted', id }, 'No tasks.');
  const th = (text, cls) => h('th', { scope: 'col', class: cls ?? null }, text);
  return h('div', { class: 'table-wrap' }, h('table', { id, class: 'tasks' },
    h('caption', { class: 'visually-hidden' }, caption ?? 'Tasks: trigger, next run, runs of the last 24 hours'),
    h('thead', null, h('tr', null, th('Task'), th('Priority'), th('When'), th('Next run', 'hide-narrow'),
      th('Runs 24 h', 'num'), th('Success', 'num'), th('p50', 'num hide-narrow'), th('p95', 'num hide-narrow'),
      th('Last'), button ? th(h('span', { class: 'visually-hidden' }, 'Action')) : null)),
    h('tbody', null, tasks.map((t) => h('tr', { dataset: { task: t.key, kind: t.kind } },
      h('td', null, h('span', { class: 'mono' }, t.key), t.enabled === false ? h('span', { class: 'muted' }, ' (disabled)') : null,
        t.description ? h('div', { class: 'muted small' }, t.description) : null),
      h('td', null, priorityBadge(t.priority)),
      h('td', null, triggerText(t)),
      h('td', { class: 'hide-narrow' }, t.next_run != null ? [timeEl(t.next_run), h('div', { class: 'muted small', dataset: { until: t.next_run } }, until(t.next_run, now))] : '—'),
      h('td', { class: 'num' }, t.kind === 'documented' ? '—' : `${t.runs ?? 0}`, t.failed ? h('div', { class: 'muted small' }, `${t.failed} failed`) : null),
      h('td', { class: 'num', dataset: { rate: t.success_rate ?? '' } }, rate(t.success_rate)),
      h('td', { class: 'num hide-narrow' }, duration(t.p50_ms)),
      h('td', { class: 'num hide-narrow' }, duration(t.p95_ms)),
      h('td', null, t.last ? [runBadge(t.last.state), ' ', h('span', { class: 'muted small' }, timeEl(t.last.finished_at ?? t.last.enqueued_at))] : h('span', { class: 'muted' }, 'never')),
      button ? h('td', null, t.kind === 'runnable' && t.enabled !== false ? button(t) : null) : null)))));
}

/** Runs in a table, newest first: state, task, attempt, when, duration, why, and the tail of
 *  its output or error (the whole kept tail behind a disclosure). */
export function runsTable(runs, { id, caption }) {
  if (!runs.length) return h('p', { class: 'muted', id }, 'No runs yet.');
  const th = (text, cls) => h('th', { scope: 'col', class: cls ?? null }, text);
  return h('div', { class: 'table-wrap' }, h('table', { id, class: 'runs' },
    h('caption', { class: 'visually-hidden' }, caption ?? 'Runs, newest first'),
    h('thead', null, h('tr', null, th('Run', 'num'), th('State'), th('Task'), th('Attempt', 'num'),
      th('When'), th('Took', 'num'), th('Why', 'hide-narrow'), th('Output'))),
    h('tbody', null, runs.map((r) => h('tr', { dataset: { run: r.id, state: r.state, task: r.task } },
      h('td', { class: 'num mono' }, `#${r.id}`),
      h('td', null, runBadge(r.state)),
      h('td', { class: 'mono' }, r.task),
      h('td', { class: 'num' }, `${r.attempt ?? 0}/${r.max_attempts ?? '?'}`),
      h('td', null, timeEl(r.finished_at ?? r.started_at ?? r.run_at ?? r.enqueued_at)),
      h('td', { class: 'num' }, duration(runDuration(r))),
      h('td', { class: 'hide-narrow' }, runTriggerText(r.trigger), r.external ? h('span', { class: 'muted' }, ' (external)') : null),
      h('td', { class: 'output' }, outputCell(r)))))));
}

function outputCell(run) {
  const error = run.error ?? '';
  const output = run.output ?? '';
  if (!error && !output) return h('span', { class: 'muted' }, '—');
  const summary = error ? lastLine(error) : lastLine(output);
  return h('details', null,
    h('summary', { class: error ? 'err' : null }, summary || (error ? 'error' : 'output')),
    error ? h('pre', { class: 'log err', 'aria-label': `Error of run ${run.id}` }, tail(error, 2000)) : null,
    output ? h('pre', { class: 'log', 'aria-label': `Output of run ${run.id}`, tabindex: '0' }, tail(output, 2000)) : null);
}

/** An incident's escalation chain: owner → agent (outcome) → …, as an ordered list. */
export function chainList(incident) {
  const steps = chainSteps(incident);
  return h('ol', { class: 'chain', 'aria-label': `Escalation chain: ${chainText(incident)}` },
    steps.map((s, i) => h('li', { class: s.owner ? 'owner' : `o-${s.outcome}`, dataset: { agent: s.agent, outcome: s.outcome ?? 'owner' } },
      i > 0 ? h('span', { class: 'arrow', 'aria-hidden': 'true' }, '→') : null,
      h('span', { class: 'mono' }, s.agent),
      s.owner ? h('span', { class: 'muted' }, ' (owner)') : h('span', { class: 'outcome' }, ` (${outcomeWord(s.outcome)})`))));
}

/** One incident: id, task, reason, since when, failures, its chain. */
export function incidentItem(incident) {
  return h('li', { class: 'incident', dataset: { incident: incident.id, state: incident.state } },
    h('div', null, h('strong', null, `#${incident.id} `), h('span', { class: 'mono' }, incident.task),
      h('span', { class: 'muted' }, ' — opened '), timeEl(incident.opened_at),
      incident.failures > 1 ? h('span', { class: 'muted' }, `, ${incident.failures} failures`) : null,
      incident.state === 'resolved' ? h('span', { class: 'muted' }, ` — resolved: ${incident.resolution ?? ''}`) : null),
    incident.reason ? h('div', { class: 'reason' }, rich(tail(incident.reason, 300))) : null,
    chainList(incident));
}
