// The "Agents and tasks" panel of a service's page: the agents that watch the service (directly
// or through its group), each with its tasks (trigger, next run, success rate, last result, a
// "Run now" button on runnable ones), and the recent runs of those agents. It reads
// `/api/v1/tasks` and `/api/v1/runs?agent=`, and reloads itself when a `run-*` event of one of
// those agents arrives (debounced). A server without those routes gets the agents' task names
// from the service's own answer, as before.

import { api } from '../api.js';
import { live } from '../live.js';
import { h } from '../dom.js';
import { RUN_KINDS, debouncer, eventRun, priorityWord, scheduleText } from '../agents.js';
import { runNow, tasksTable, runsTable } from './runs.js';

/** Runs shown on a service's page. */
const RUNS_SHOWN = 10;

/** The panel: `{ element, show(agents), close() }`; `show` takes the `agents` of
 *  `/api/v1/services/{id}` (`[{id, name, tier, reports_to, tasks}]`). */
export function agentWork(serviceId) {
  const body = h('div', { id: 'service-agents' });
  const trigger = runNow('service-run-token-input');
  const element = h('section', { class: 'panel section', 'aria-labelledby': 'h-agents' },
    h('h2', { id: 'h-agents' }, 'Agents and tasks'), trigger.element, body);
  let agents = [];
  let key = null;
  let closed = false;

  const load = async () => {
    if (!agents.length) {
      body.replaceChildren(h('p', { class: 'muted' }, 'No agent watches this service.'));
      return;
    }
    let tasks;
    let runs;
    try {
      const [doc, ...pages] = await Promise.all([api.tasks(), ...agents.map((a) => api.runs({ agent: a.id, limit: RUNS_SHOWN }))]);
      tasks = doc;
      runs = pages.flatMap((p) => p.runs ?? []).sort((a, b) => b.id - a.id).slice(0, RUNS_SHOWN);
    } catch (e) {
      if (closed) return;
      if (e.status === 404 || e.code === 'no-route') { body.replaceChildren(plain(agents)); return; }
      body.replaceChildren(plain(agents), h('p', { class: 'muted' }, `Could not read the tasks and runs: ${e.message}`));
      return;
    }
    if (closed) return;
    const button = tasks.engine === false ? null : trigger.button;
    body.replaceChildren(...[
      ...agents.map((a) => h('div', { class: 'agent-work', dataset: { agent: a.id } },
        h('h3', null, a.name, h('span', { class: 'muted' }, ` — tier ${a.tier}${a.reports_to ? `, reports to ${a.reports_to}` : ''}`)),
        tasksTable((tasks.tasks ?? []).filter((t) => t.agent === a.id), {
          id: null, button, caption: `Tasks of ${a.name}`,
        }))),
      tasks.engine === false ? h('p', { class: 'muted' }, 'This server runs no agents engine: the tasks are listed, not run.') : null,
      h('h3', null, 'Recent runs of these agents'),
      runsTable(runs, { id: 'service-runs', caption: `Recent runs of the agents that watch ${serviceId}` }),
      h('p', null, h('a', { href: '#/execution' }, 'All runs and incidents →')),
    ].filter(Boolean));
  };

  const changes = debouncer(() => { if (!closed) load(); }, 300, 1500);
  const unsubscribe = live.subscribe((change) => {
    if (change.type !== 'event' || !RUN_KINDS.includes(change.event.kind)) return;
    const { agent } = eventRun(change.event);
    if (agent == null || agents.some((a) => a.id === agent)) changes.add(['runs']);
  });

  return {
    element,
    show(list) {
      const next = (list ?? []).map((a) => a.id).join(',');
      agents = list ?? [];
      if (next === key) return;
      key = next;
      load();
    },
    close() { closed = true; unsubscribe(); changes.cancel(); },
  };
}

/** The agents and their task names, from the service's own answer. */
function plain(agents) {
  return h('ul', { class: 'links' }, agents.map((a) => h('li', null,
    h('strong', null, a.name), ` (tier ${a.tier}${a.reports_to ? `, reports to ${a.reports_to}` : ''})`,
    a.tasks?.length ? h('ul', null, a.tasks.map((t) => h('li', null, t.name, h('span', { class: 'muted' },
      ` — ${priorityWord(t.priority)}${t.schedule ? `, ${scheduleText(t.schedule)}` : ''}`)))) : h('p', { class: 'muted' }, 'No tasks.'))));
}
