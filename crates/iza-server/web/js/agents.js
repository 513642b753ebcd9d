// The agents' work in words, for the Execution page and a service's page: run states, durations,
// triggers, escalation chains and the agent tree, from the JSON of `/api/v1/agents`, `/tasks`,
// `/queue`, `/runs` and `/incidents` and from the `run-*` / `incident-*` events. Pure functions
// (no DOM, no fetch), so `tests/browser/agents.test.mjs` runs them in Node. Drawing is in
// views/runs.js and views/execution.js.

/** A run's state: glyph, word, and the status colour it borrows. */
const RUN_STATES = {
  queued: ['◷', 'Queued', 'unknown'],
  running: ['▶', 'Running', 'running'],
  succeeded: ['✓', 'Succeeded', 'up'],
  failed: ['✕', 'Failed', 'down'],
  cancelled: ['⊘', 'Cancelled', 'unknown'],
};

export function runGlyph(state) { return RUN_STATES[state]?.[0] ?? '?'; }
export function runWord(state) { return RUN_STATES[state]?.[1] ?? String(state); }
/** The status class (`st-…`) a run state is coloured with. */
export function runColour(state) { return RUN_STATES[state]?.[2] ?? 'unknown'; }

export const PRIORITIES = ['high', 'medium', 'low'];
export function priorityWord(p) { return p ? p[0].toUpperCase() + p.slice(1) : '—'; }

/** The words of an escalation step's outcome. */
const OUTCOMES = { pending: 'pending', handled: 'handled', failed: 'failed', 'no-handler': 'no handler' };
export function outcomeWord(outcome) { return OUTCOMES[outcome] ?? String(outcome); }

/** A duration for people: `850 ms`, `4.2 s`, `3 min 04 s`, `2 h 05 min`, `3 d 4 h`. */
export function duration(ms) {
  if (ms == null || !Number.isFinite(ms)) return '—';
  const v = Math.max(0, ms);
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 10_000) return `${(Math.floor(v / 100) / 10).toFixed(1)} s`;
  const s = Math.floor(v / 1000);
  const pad = (n) => String(n).padStart(2, '0');
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** How long a finished (or failed) run took, in ms; null while it has not both started and ended. */
export function runDuration(run) {
  if (run?.started_at == null || run?.finished_at == null) return null;
  return Math.max(0, run.finished_at - run.started_at);
}

/** How long a running run has been running at `now` (local ms). `elapsed_ms` is what the
 *  server measured when it answered (at local time `received`); without it, `started_at`. */
export function elapsed(run, received, now) {
  if (run?.elapsed_ms != null && received != null) return run.elapsed_ms + Math.max(0, now - received);
  if (run?.started_at != null) return Math.max(0, now - run.started_at);
  return null;
}

/** A success rate (0 to 1) in percent, to a tenth: `100 %`, `33.3 %`, `0 %`; `—` without runs. */
export function rate(value) {
  if (value == null || !Number.isFinite(value)) return '—';
  return `${Math.round(value * 1000) / 10} %`;
}

/** A time to come, relative to `now`: `in 3 s`, `in 4 min`, `now` (due or overdue). */
export function until(at, now) {
  if (at == null) return '—';
  const s = (at - now) / 1000;
  if (s <= 0.5) return 'now';
  if (s < 60) return `in ${Math.round(s)} s`;
  if (s < 3600) return `in ${Math.round(s / 60)} min`;
  if (s < 86400) return `in ${Math.round(s / 3600)} h`;
  return `in ${Math.round(s / 86400)} d`;
}

/** The end of an output: its last `max` characters, cut at a line start when one is near,
 *  with `…` in front when something was left out. Trailing blank lines are dropped. */
export function tail(text, max = 300) {
  if (text == null) return '';
  const t = String(text).replace(/\s+$/, '');
  if (t.length <= max) return t;
  let cut = t.slice(t.length - max);
  const nl = cut.indexOf('\n');
  if (nl >= 0 && nl < max / 2) cut = cut.slice(nl + 1);
  return `…${cut}`;
}

/** The last non-blank line of an output, at most `max` characters (for a table cell). */
export function lastLine(text, max = 120) {
  if (text == null) return '';
  const lines = String(text).split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  const line = lines[lines.length - 1] ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

const list = (v) => (v == null ? [] : Array.isArray(v) ? v : [v]);

/** A task's schedule: `every 1s`, `cron 0 3 * * * (Europe/Paris)`. Accepts the catalog's
 *  forms (`{"every":"1s"}`, `{"cron":"…"}`, `{"cron":{"expression","timezone"}}`) and text. */
export function scheduleText(schedule) {
  if (schedule == null) return null;
  if (typeof schedule === 'string') return schedule;
  if (schedule.every != null) return `every ${schedule.every}`;
  const cron = schedule.cron;
  if (cron != null) {
    if (typeof cron === 'string') return `cron ${cron}${schedule.timezone ? ` (${schedule.timezone})` : ''}`;
    const tz = cron.timezone ?? schedule.timezone;
    return `cron ${cron.expression ?? JSON.stringify(cron)}${tz ? ` (${tz})` : ''}`;
  }
  return JSON.stringify(schedule);
}

/** A task's event trigger: `on status down of n8n`, `on process failed in group infra`,
 *  `on an escalation`. Accepts the catalog's form (`{"kind":{"status":[…]},"services":[…]}`,
 *  `"kind":"escalation"`) and the manifest's (`{"status":"down","services":[…]}`). */
export function onText(on) {
  if (on == null) return null;
  const kind = on.kind ?? on;
  const scope = () => {
    const parts = [];
    const services = list(on.services);
    const groups = list(on.groups);
    if (services.length) parts.push(`of ${services.join(', ')}`);
    if (groups.length) parts.push(`in ${groups.length > 1 ? 'groups' : 'group'} ${groups.join(', ')}`);
    return parts.length ? ` ${parts.join(' ')}` : '';
  };
  if (kind === 'escalation' || kind.escalation === true) return 'on an escalation';
  if (typeof kind === 'object' && kind.status != null) return `on status ${list(kind.status).join(' or ')}${scope()}`;
  if (typeof kind === 'object' && kind.process != null) return `on process ${list(kind.process).join(' or ')}${scope()}`;
  return `on ${typeof kind === 'string' ? kind : JSON.stringify(kind)}${scope()}`;
}

/** When a task runs, in words: its schedule and its event trigger, `on demand` when it has
 *  an action and neither, `not run (documented)` without an action, `by an external agent`. */
export function triggerText(task) {
  const parts = [scheduleText(task.schedule), onText(task.on)].filter(Boolean);
  if (task.kind === 'documented') return 'not run (documented)';
  const when = parts.length ? parts.join('; ') : 'on demand';
  return task.kind === 'external' ? `${when}, by an external agent` : when;
}

/** Why a run was queued, from its `trigger`: `schedule`, `manual`, `event: db down`, `escalation of #4`. */
export function runTriggerText(trigger) {
  if (trigger == null) return '—';
  if (typeof trigger === 'string') return trigger;
  const kind = trigger.kind ?? '—';
  switch (kind) {
    case 'tick': case 'schedule': return 'schedule';
    case 'manual': return 'manual';
    case 'escalation': return trigger.incident != null ? `escalation of #${trigger.incident}` : 'escalation';
    case 'event': {
      const what = [trigger.service, trigger.status ?? trigger.to ?? trigger.state].filter((x) => typeof x === 'string');
      return what.length ? `event: ${what.join(' ')}` : 'event';
    }
    default: return String(kind);
  }
}

/** An incident's escalation chain, as steps: the owner first (the agent whose task failed),
 *  then each agent it climbed to, with the outcome there. */
export function chainSteps(incident) {
  const steps = [];
  if (incident?.agent) steps.push({ agent: incident.agent, owner: true, outcome: null, run: incident.run ?? null });
  for (const step of incident?.chain ?? []) {
    steps.push({ agent: step.agent, owner: false, outcome: step.outcome ?? null, run: step.run ?? null, at: step.at ?? null });
  }
  return steps;
}

/** The chain as one line: `owner → agent (no handler) → agent (pending)`. */
export function chainText(incident) {
  const steps = chainSteps(incident);
  if (steps.length === 0) return '—';
  return steps.map((s) => (s.owner ? s.agent : `${s.agent} (${outcomeWord(s.outcome)})`)).join(' → ');
}

/** The agent tree: roots are the agents that report to no one (or to an agent that does not
 *  exist), each node `{ agent, children, depth }`; siblings by tier, then name. Every agent is
 *  in it once, even with a reporting cycle (the validator forbids them; the page must not hang). */
export function agentTree(agents) {
  const byId = new Map((agents ?? []).map((a) => [a.id, a]));
  const children = new Map();
  for (const a of byId.values()) {
    const parent = a.reports_to && a.reports_to !== a.id && byId.has(a.reports_to) ? a.reports_to : null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(a);
  }
  const order = (x, y) => (x.tier ?? 9) - (y.tier ?? 9) || String(x.name ?? x.id).localeCompare(String(y.name ?? y.id)) || x.id.localeCompare(y.id);
  const placed = new Set();
  const build = (agent, depth) => {
    placed.add(agent.id);
    const kids = (children.get(agent.id) ?? []).filter((c) => !placed.has(c.id)).sort(order);
    return { agent, depth, children: kids.map((c) => build(c, depth + 1)) };
  };
  const roots = (children.get(null) ?? []).sort(order).map((a) => build(a, 0));
  // Agents on a cycle have no root above them: the first of each cycle (in order) becomes one.
  for (const a of [...byId.values()].sort(order)) if (!placed.has(a.id)) roots.push(build(a, 0));
  return roots;
}

/** The run an event is about: `{ id, task, agent }` (fields it lacks are null). Events carry
 *  the run whole (`run: {…}`) or by id (`run: 42`, with `task` beside it). */
export function eventRun(event) {
  const run = event?.run;
  const object = run != null && typeof run === 'object' ? run : null;
  const task = event?.task ?? object?.task ?? null;
  const agent = event?.agent ?? object?.agent ?? (typeof task === 'string' && task.includes('/') ? task.split('/')[0] : null);
  return { id: object ? object.id ?? null : run ?? null, task, agent };
}

/** The incident an event is about: its id (events carry it whole or by id). */
export function eventIncident(event) {
  const incident = event?.incident;
  if (incident != null && typeof incident === 'object') return incident.id ?? null;
  return incident ?? null;
}

export const RUN_KINDS = ['run-queued', 'run-started', 'run-succeeded', 'run-failed', 'run-cancelled'];
export const INCIDENT_KINDS = ['incident-opened', 'incident-escalated', 'incident-resolved'];

/** The parts of the Execution page an event of this kind changes (empty: none). */
export function affectedParts(kind) {
  if (RUN_KINDS.includes(kind)) return ['queue', 'runs', 'tasks'];
  if (INCIDENT_KINDS.includes(kind)) return ['incidents', 'agents'];
  if (kind === 'manifest-reloaded') return ['agents', 'tasks', 'queue', 'runs', 'incidents'];
  return [];
}

/** Calls `fn(parts)` once events stop arriving for `quiet` ms, or at the latest `most` ms after
 *  the first, with the union of the parts asked for since the last call. Returns
 *  `{ add(parts), cancel() }`. `timers` is injectable for tests (`setTimeout`/`clearTimeout`). */
export function debouncer(fn, quiet = 300, most = 1500, timers = globalThis) {
  let pending = new Set();
  let first = 0;
  let timer = null;
  const flush = () => {
    timer = null;
    const parts = pending;
    pending = new Set();
    if (parts.size) fn(parts);
  };
  return {
    add(parts, now = Date.now()) {
      if (!parts.length) return;
      if (pending.size === 0) first = now;
      for (const p of parts) pending.add(p);
      if (timer) timers.clearTimeout(timer);
      timer = timers.setTimeout(flush, Math.max(0, Math.min(quiet, first + most - now)));
    },
    cancel() { if (timer) timers.clearTimeout(timer); timer = null; pending = new Set(); },
  };
}
