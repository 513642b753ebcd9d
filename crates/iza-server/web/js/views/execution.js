// Execution: the agents at work (the seed's Execution Dashboard). Queue depth by priority, the
// runs in flight with their elapsed time (ticking), open incidents with their escalation
// chains, every task with its trigger, next run, success rate and p50/p95 over the last day
// and a "Run now" button, the agent tree (tiers, reporting lines, services owned, tasks), and
// the recent runs with their output tails. It reads `/api/v1/queue`, `/runs`, `/tasks`,
// `/incidents` and `/agents`, and reloads only the parts a `run-*` or `incident-*` event of
// the live stream changes (debounced); a slow timer catches anything missed.
// `#/execution?task=KEY` shows the runs of one task.

import { api } from '../api.js';
import { live } from '../live.js';
import { h, timeEl, serviceHref, failure } from '../dom.js';
import { agentTree, affectedParts, debouncer, duration, elapsed, until, PRIORITIES, priorityWord } from '../agents.js';
import { runNow, tasksTable, runsTable, incidentItem, priorityBadge } from './runs.js';

export const title = () => 'Execution';

/** A full reload this often even without events (a missed event, a task's next run). */
const SLOW_REFRESH_MS = 30_000;
/** Runs per page of the recent runs. */
const RUNS_PAGE = 25;
const STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

export function render(main, _params, query) {
  const cards = h('div', { class: 'grid cards', id: 'queue-cards', 'aria-label': 'Queue' });
  const engineNote = h('p', { class: 'muted', id: 'engine-note', hidden: true });
  const loading = () => h('p', { class: 'muted' }, 'Loading…');
  const running = h('div', { id: 'running-box' }, loading());
  const incidents = h('div', { id: 'incidents-box' }, loading());
  const tasks = h('div', { id: 'tasks-box' }, loading());
  const runsBox = h('div', { id: 'runs-box' }, loading());
  const tree = h('div', { id: 'agents-box' }, loading());
  const trigger = runNow('run-token-input');

  const stateFilter = h('select', { id: 'run-state', 'aria-label': 'Only runs in this state' },
    h('option', { value: '' }, 'Any state'),
    STATES.map((s) => h('option', { value: s }, s[0].toUpperCase() + s.slice(1))));
  const taskFilter = h('input', {
    type: 'search', id: 'run-task', placeholder: 'Task (AGENT/TASK)', 'aria-label': 'Only the runs of this task',
    value: query.get('task') ?? '',
  });
  const more = h('button', { type: 'button', id: 'runs-more', hidden: true }, 'Older runs');

  main.append(
    h('h1', null, 'Execution'),
    h('section', { 'aria-labelledby': 'h-queue' }, h('h2', { id: 'h-queue', class: 'visually-hidden' }, 'Queue'), cards, engineNote),
    h('div', { class: 'grid two section' },
      h('section', { class: 'panel', 'aria-labelledby': 'h-running' }, h('h2', { id: 'h-running' }, 'Running now'), running),
      h('section', { class: 'panel', id: 'incidents', 'aria-labelledby': 'h-incidents' },
        h('h2', { id: 'h-incidents' }, 'Open incidents'), incidents)),
    h('section', { class: 'panel section', 'aria-labelledby': 'h-tasks' }, h('h2', { id: 'h-tasks' }, 'Tasks'), trigger.element, tasks),
    h('section', { class: 'panel section', 'aria-labelledby': 'h-agents' }, h('h2', { id: 'h-agents' }, 'Agents'), tree),
    h('section', { class: 'panel section', 'aria-labelledby': 'h-runs' }, h('h2', { id: 'h-runs' }, 'Recent runs'),
      h('div', { class: 'toolbar', role: 'search' }, h('label', null, 'State ', stateFilter), h('label', null, 'Task ', taskFilter)),
      runsBox, more),
  );

  const data = { queue: null, received: 0, runs: [], next: null, paged: false, tasks: null, incidents: null, agents: null };
  let stopped = false;

  const drawCards = () => {
    const q = data.queue;
    const open = data.incidents?.length;
    const card = (key, value, label, cls) => h('div', { class: `card${cls ? ` ${cls}` : ''}`, dataset: { queue: key } },
      h('div', { class: 'value' }, value ?? '—'), h('div', { class: 'label' }, label));
    cards.replaceChildren(
      ...PRIORITIES.map((p) => card(p, q?.ready?.[p], `Ready, ${priorityWord(p).toLowerCase()} priority`)),
      card('scheduled', q?.scheduled, 'Scheduled for later'),
      card('running', q?.running?.length, 'Running'),
      card('incidents', open, 'Open incidents', open ? 'st-down' : null));
  };

  const drawRunning = () => {
    const list = data.queue?.running ?? [];
    if (!list.length) { running.replaceChildren(h('p', { class: 'muted', id: 'running-none' }, 'Nothing is running.')); return; }
    const now = Date.now();
    const th = (text, cls) => h('th', { scope: 'col', class: cls ?? null }, text);
    running.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { id: 'running-runs' },
      h('caption', { class: 'visually-hidden' }, 'Runs in flight, with how long each has been running'),
      h('thead', null, h('tr', null, th('Run', 'num'), th('Task'), th('Priority', 'hide-narrow'), th('Attempt', 'num'), th('Started', 'hide-narrow'), th('Elapsed', 'num'))),
      h('tbody', null, list.map((r) => h('tr', { dataset: { run: r.id, task: r.task } },
        h('td', { class: 'num mono' }, `#${r.id}`),
        h('td', null, h('span', { class: 'mono' }, r.task), r.worker ? h('div', { class: 'muted small' }, r.external ? `external: ${r.worker}` : r.worker) : null),
        h('td', { class: 'hide-narrow' }, priorityBadge(r.priority)),
        h('td', { class: 'num' }, `${r.attempt ?? 0}/${r.max_attempts ?? '?'}`),
        h('td', { class: 'hide-narrow' }, timeEl(r.started_at)),
        h('td', { class: 'num elapsed', dataset: { elapsedMs: r.elapsed_ms ?? '', startedAt: r.started_at ?? '' } },
          duration(elapsed(r, data.received, now)))))))));
  };

  const drawIncidents = () => {
    const list = data.incidents ?? [];
    incidents.replaceChildren(list.length
      ? h('ol', { class: 'incidents', id: 'incident-list', 'aria-label': 'Open incidents, newest first' }, list.map(incidentItem))
      : h('p', { class: 'muted', id: 'incidents-none' }, 'No open incidents.'));
  };

  const drawTasks = () => {
    const doc = data.tasks;
    if (!doc) return;
    engineNote.hidden = doc.engine !== false;
    engineNote.textContent = doc.engine === false ? 'This server runs no agents engine: its tasks are listed, not run.' : '';
    tasks.replaceChildren(tasksTable(doc.tasks ?? [], { id: 'task-table', button: doc.engine === false ? null : trigger.button }));
  };

  const drawRuns = () => {
    runsBox.replaceChildren(runsTable(data.runs, { id: 'run-table', caption: 'Recent runs, newest first' }));
    more.hidden = data.next == null;
  };

  const drawAgents = () => {
    if (data.agents == null) return;
    const list = data.agents;
    if (!list.length) { tree.replaceChildren(h('p', { class: 'muted' }, 'The manifest has no agents.')); return; }
    const names = new Map((data.tasks?.tasks ?? []).map((t) => [t.key, t]));
    const node = ({ agent: a, children }) => h('li', { dataset: { agent: a.id, tier: a.tier } },
      h('div', { class: 'agent' },
        h('span', { class: `tier tier-${a.tier}` }, `Tier ${a.tier}`), ' ',
        h('strong', null, a.name), ' ', h('span', { class: 'muted mono' }, a.id),
        a.reports_to ? h('span', { class: 'muted' }, ` — reports to ${a.reports_to}`) : null,
        a.open_incidents?.length
          ? h('a', { class: 'badge st-down', href: '#incidents', 'aria-label': `${a.open_incidents.length} open incidents` },
            h('span', { 'aria-hidden': 'true' }, '✕'), `${a.open_incidents.length} open`)
          : null),
      a.role ? h('div', { class: 'muted small' }, a.role) : null,
      h('dl', { class: 'kv small' },
        h('dt', null, 'Services'), h('dd', null, a.services?.length
          ? a.services.map((s, i) => [i ? ', ' : '', h('a', { href: serviceHref(s) }, s)])
          : (a.groups?.length ? '' : '—'), a.groups?.length ? `${a.services?.length ? '; ' : ''}groups ${a.groups.join(', ')}` : null),
        h('dt', null, 'Tasks'), h('dd', null, a.tasks?.length
          ? a.tasks.map((k) => names.get(k)?.name ?? k).join(', ')
          : '—')),
      children.length ? h('ul', { class: 'tree' }, children.map(node)) : null);
    tree.replaceChildren(h('ul', { class: 'tree root', id: 'agent-tree', 'aria-label': 'Agents by reporting line' }, agentTree(list).map(node)));
  };

  // Each part: what to fetch, and what to do with the answer. A part's answers are drawn only
  // when they are the latest asked for (a slow answer never paints over a newer one).
  const loaders = {
    queue: [() => api.queue(), (q) => { data.queue = q; data.received = Date.now(); drawCards(); drawRunning(); }],
    runs: [() => api.runs({ state: stateFilter.value || undefined, task: taskFilter.value.trim() || undefined, limit: RUNS_PAGE }), (page) => {
      const fresh = page.runs ?? [];
      if (data.paged) {
        // Older pages the reader asked for stay below the fresh first page.
        const oldest = fresh.length ? fresh[fresh.length - 1].id : Infinity;
        data.runs = fresh.concat(data.runs.filter((r) => r.id < oldest));
      } else {
        data.runs = fresh;
        data.next = fresh.length === RUNS_PAGE ? fresh[fresh.length - 1].id : null;
      }
      drawRuns();
    }],
    tasks: [() => api.tasks(), (doc) => { data.tasks = doc; drawTasks(); drawAgents(); }],
    incidents: [() => api.incidents({ open: true }), (doc) => { data.incidents = doc.incidents ?? []; drawIncidents(); drawCards(); }],
    agents: [() => api.agents(), (doc) => { data.agents = doc.agents ?? []; drawAgents(); }],
  };
  const boxes = { queue: running, runs: runsBox, tasks, incidents, agents: tree };
  const what = { queue: 'the queue', runs: 'the runs', tasks: 'the tasks', incidents: 'the incidents', agents: 'the agents' };
  const asked = Object.fromEntries(Object.keys(loaders).map((k) => [k, 0]));

  const load = async (parts) => {
    await Promise.all([...parts].map(async (part) => {
      const mine = ++asked[part];
      const [fetch, apply] = loaders[part];
      let answer;
      try {
        answer = await fetch();
      } catch (e) {
        if (!stopped && mine === asked[part]) boxes[part].replaceChildren(failure(what[part], e));
        return;
      }
      if (!stopped && mine === asked[part]) apply(answer);
    }));
  };

  const older = async () => {
    more.disabled = true;
    try {
      const page = await api.runs({ state: stateFilter.value || undefined, task: taskFilter.value.trim() || undefined, before: data.next, limit: RUNS_PAGE });
      const runs = page.runs ?? [];
      data.runs = data.runs.concat(runs);
      data.next = runs.length === RUNS_PAGE ? runs[runs.length - 1].id : null;
      data.paged = true;
      drawRuns();
    } catch (e) {
      runsBox.append(failure('older runs', e));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', older);
  const filtered = () => { data.paged = false; load(['runs']); };
  stateFilter.addEventListener('change', filtered);
  let typing = null;
  taskFilter.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      const task = taskFilter.value.trim();
      history.replaceState(null, '', `#/execution${task ? `?task=${encodeURIComponent(task)}` : ''}`);
      filtered();
    }, 250);
  });

  // Events change some parts: those are reloaded, together, once the events calm down.
  const changes = debouncer((parts) => { if (!stopped) load(parts); }, 300, 1500);
  // A snapshot after the first is a reconnection: events may have been missed.
  let connected = live.hasSnapshot;
  const unsubscribe = live.subscribe((change) => {
    if (change.type === 'snapshot') {
      if (connected) changes.add(Object.keys(loaders));
      connected = true;
    }
    if (change.type === 'event') changes.add(affectedParts(change.event.kind));
  });
  const slow = setInterval(() => load(Object.keys(loaders)), SLOW_REFRESH_MS);
  // The elapsed time of running runs and the time to each next run tick every second.
  const tick = setInterval(() => {
    const now = Date.now();
    for (const cell of running.querySelectorAll('td.elapsed')) {
      const run = {
        elapsed_ms: cell.dataset.elapsedMs === '' ? null : Number(cell.dataset.elapsedMs),
        started_at: cell.dataset.startedAt === '' ? null : Number(cell.dataset.startedAt),
      };
      cell.textContent = duration(elapsed(run, data.received, now));
    }
    for (const cell of tasks.querySelectorAll('[data-until]')) cell.textContent = until(Number(cell.dataset.until), now);
  }, 1000);

  drawCards();
  load(Object.keys(loaders));
  return () => { stopped = true; unsubscribe(); changes.cancel(); clearInterval(slow); clearInterval(tick); clearTimeout(typing); };
}

