// Events: the stored history as a timeline, newest first, filtered by kind and service,
// paged with "Older events", and live events from the stream prepended as they come.
// Probe results are not events (they are on each service's page). Above them, when the
// manifest has `[outputs.*]`, the event outputs (docs/events.md): each one's outbox depth and
// lag, published, dropped and failures, and its last error, refreshed every few seconds.

import { api } from '../api.js';
import { live } from '../live.js';
import { h, timeEl, serviceHref, word, failure, rich, setRich, glyph as statusGlyph } from '../dom.js';
import { eventRun, eventIncident, duration, runDuration, lastLine } from '../agents.js';

export const title = () => 'Events';

const KINDS = {
  'status-changed': ['●', 'Status changed'],
  'service-impacted': ['↯', 'Impacted'],
  'service-recovered': ['✓', 'Recovered'],
  'manifest-reloaded': ['⟳', 'Manifest reloaded'],
  'monitor-started': ['▶', 'Monitor started'],
  'monitor-stopped': ['■', 'Monitor stopped'],
  'store-failed': ['✕', 'Store failed'],
  'process-starting': ['▷', 'Process starting'],
  'process-running': ['▶', 'Process running'],
  'process-ready': ['✓', 'Process ready'],
  'process-exited': ['■', 'Process exited'],
  'process-restarting': ['⟳', 'Process restarting'],
  'process-failed': ['✕', 'Process failed'],
  'process-stopped': ['■', 'Process stopped'],
  'run-queued': ['◷', 'Run queued'],
  'run-started': ['▶', 'Run started'],
  'run-succeeded': ['✓', 'Run succeeded'],
  'run-failed': ['✕', 'Run failed'],
  'run-cancelled': ['⊘', 'Run cancelled'],
  'incident-opened': ['⚠', 'Incident opened'],
  'incident-escalated': ['⇧', 'Incident escalated'],
  'incident-resolved': ['✓', 'Incident resolved'],
  'alert-firing': ['⚑', 'Alert firing'],
  'alert-updated': ['↯', 'Alert updated'],
  'alert-resolved': ['✓', 'Alert resolved'],
  'alert-acknowledged': ['☑', 'Alert acknowledged'],
  'alert-escalated': ['⇧', 'Alert escalated'],
  'notification-sent': ['✉', 'Notification sent'],
  'notification-failed': ['✕', 'Notification failed'],
  'silence-created': ['◌', 'Silence created'],
  'silence-expired': ['■', 'Silence ended'],
};

/** Whether a stream event belongs on a timeline (probe results do not). */
export function isShown(event) { return event.kind in KINDS; }

/** A stream event as a timeline record. */
export function liveRecord(e) {
  return { id: `live-${e.seq}`, at: e.at, kind: e.kind, service: e.service ?? null, payload: e };
}

/** Adds a live record in front of `records` unless they already hold it: the stored list may
 *  have been read after the event was recorded but before the stream delivered it. */
export function prependLive(records, record) {
  const twin = records.some((r) => r.at === record.at && r.kind === record.kind && (r.service ?? null) === record.service);
  return twin ? records : [record, ...records];
}

function statusText(s) {
  if (!s) return '?';
  return s.by ? `${word(s.status).toLowerCase()} (by ${s.by})` : word(s.status).toLowerCase();
}

/** What an event says, for a person. */
function describe(record) {
  const p = record.payload ?? {};
  const link = (id) => h('a', { href: serviceHref(id) }, id);
  switch (record.kind) {
    case 'status-changed':
      return [link(p.service), ` ${statusText(p.from)} → `, h('strong', null, statusText(p.to)),
        p.reason ? h('span', { class: 'muted' }, ' — ', rich(p.reason)) : null];
    case 'service-impacted':
      return [link(p.service), ' impacted by ', link(p.by), h('span', { class: 'muted' }, ` (own check: ${p.own})`)];
    case 'service-recovered':
      return [link(p.service), ' recovered from ', link(p.by), `, now ${statusText(p.to)}`];
    case 'manifest-reloaded':
      return [`added ${p.added?.length ?? 0}, removed ${p.removed?.length ?? 0}, changed ${p.changed?.length ?? 0}`];
    case 'monitor-started':
      return [`${p.services} services, ${p.checks} checks, ${p.resumed} resumed`];
    case 'monitor-stopped':
      return [`${p.abandoned} probes abandoned`];
    case 'store-failed':
      return [rich(p.message ?? ''), ` (${p.pending} pending)`];
    case 'process-starting':
      return [link(p.service), ` starting${p.attempt > 1 ? ` (attempt ${p.attempt})` : ''}`];
    case 'process-running':
      return [link(p.service), ` running, pid ${p.pid}`];
    case 'process-ready':
      return [link(p.service), ` ready after ${p.after_ms} ms`];
    case 'process-exited':
      return [link(p.service), ' exited', p.message ? [': ', rich(p.message)] : p.code != null ? ` with status ${p.code}` : ` by signal ${p.signal}`];
    case 'process-restarting':
      return [link(p.service), ` restarting in ${Math.round(p.in_ms / 100) / 10} s (attempt ${p.attempt})`];
    case 'process-failed':
      return [link(p.service), ` failed after ${p.restarts} restarts: `, rich(p.reason)];
    case 'process-stopped':
      return [link(p.service), p.killed ? ' stopped (killed after its grace period)' : ' stopped'];
    case 'alert-firing':
      return [alertLink(p.alert), ': ', link(p.service), ` is ${p.status} (${p.severity}, rule “${p.rule}”)`,
        p.impacted?.length ? `, impacting ${p.impacted.length}` : '',
        p.suppressed_by ? h('span', { class: 'muted' }, ` — suppressed by ${p.suppressed_by}`) : null];
    case 'alert-updated':
      return [alertLink(p.alert), ': ', link(p.service), ` now impacts ${p.impacted?.length ?? 0}`];
    case 'alert-resolved':
      return [alertLink(p.alert), ': ', link(p.service), ' recovered'];
    case 'alert-acknowledged':
      return [alertLink(p.alert), ` acknowledged by ${p.by}`];
    case 'alert-escalated':
      return [alertLink(p.alert), ` escalated to ${p.to}`];
    case 'notification-sent':
      return [`${p.notifier} told of `, alertList(p.alerts), ` in ${p.latency_ms} ms`, p.attempt > 1 ? ` (attempt ${p.attempt})` : ''];
    case 'notification-failed':
      return [`${p.notifier} could not be told of `, alertList(p.alerts), h('span', { class: 'muted' }, ' — ', rich(p.error))];
    case 'silence-created':
      return [h('a', { href: '#/alerts' }, `silence #${p.silence}`), ' until ', timeEl(p.ends_at)];
    case 'silence-expired':
      return [h('a', { href: '#/alerts' }, `silence #${p.silence}`), ' ended'];
    default:
      if (record.kind.startsWith('run-')) return describeRun(record.kind, p);
      if (record.kind.startsWith('incident-')) return describeIncident(record.kind, p);
      return [record.kind];
  }
}

/** An alert by its number, a link to the Alerts page. */
function alertLink(id) { return h('a', { href: '#/alerts' }, `Alert #${id}`); }

/** Alerts by number, e.g. "alert #3" or "alerts #3, #4". */
function alertList(ids = []) {
  return h('a', { href: '#/alerts' }, `${ids.length === 1 ? 'alert' : 'alerts'} ${ids.map((i) => `#${i}`).join(', ')}`);
}

/** A run's event: its task (a link to its runs), the run's id, and what happened. */
function describeRun(kind, p) {
  const run = eventRun(p);
  const object = p.run != null && typeof p.run === 'object' ? p.run : {};
  const task = run.task
    ? h('a', { href: `#/execution?task=${encodeURIComponent(run.task)}`, class: 'mono' }, run.task)
    : h('span', { class: 'mono' }, 'a task');
  const id = run.id != null ? ` run #${run.id}` : ' run';
  const attempt = p.attempt ?? object.attempt;
  const error = p.error ?? object.error;
  const took = p.duration_ms ?? runDuration(object);
  switch (kind) {
    case 'run-queued': {
      // The event says why in a word (`tick`, `event`, `manual`, `escalation`); a run, as an object.
      const why = typeof p.trigger === 'string' ? p.trigger : p.trigger?.kind ?? object.trigger?.kind;
      return [task, `${id} queued`, why ? h('span', { class: 'muted' }, ` (${why === 'tick' ? 'schedule' : why})`) : null];
    }
    case 'run-started':
      return [task, `${id} started`, attempt > 1 ? ` (attempt ${attempt})` : ''];
    case 'run-succeeded':
      return [task, `${id} succeeded`, took != null ? ` in ${duration(took)}` : ''];
    case 'run-failed': {
      const retry = p.retry_at ?? null;
      return [task, `${id} failed`, error ? h('span', { class: 'muted' }, ': ', rich(lastLine(error))) : null,
        retry != null ? [', retry at ', timeEl(retry)] : ''];
    }
    case 'run-cancelled':
      return [task, `${id} cancelled`];
    default:
      return [task, `${id} ${kind}`];
  }
}

/** An incident's event: its id, its task, and where it climbed to. */
function describeIncident(kind, p) {
  const incident = p.incident != null && typeof p.incident === 'object' ? p.incident : {};
  const id = eventIncident(p);
  const task = p.task ?? incident.task;
  const what = [h('a', { href: '#/execution' }, id != null ? `Incident #${id}` : 'An incident'),
    task ? [' of ', h('span', { class: 'mono' }, task)] : null];
  switch (kind) {
    case 'incident-opened':
      return [...what, ' opened', (p.reason ?? incident.reason) ? h('span', { class: 'muted' }, ': ', rich(lastLine(p.reason ?? incident.reason))) : null];
    case 'incident-escalated': {
      const chain = incident.chain ?? [];
      const to = p.to ?? p.agent ?? chain[chain.length - 1]?.agent;
      // `runs`: the runs of that agent's escalation tasks; none, and it climbs on.
      const handlers = Array.isArray(p.runs)
        ? h('span', { class: 'muted' }, p.runs.length ? ` (runs ${p.runs.map((r) => `#${r}`).join(', ')})` : ' (no escalation task)')
        : null;
      return [...what, ' escalated', to ? [' to ', h('span', { class: 'mono' }, to)] : null,
        p.tier != null ? ` (tier ${p.tier})` : '', handlers];
    }
    case 'incident-resolved':
      return [...what, ' resolved', (p.resolution ?? incident.resolution) ? h('span', { class: 'muted' }, `: ${p.resolution ?? incident.resolution}`) : null];
    default:
      return [...what, ` ${kind}`];
  }
}

/** One timeline entry of a stored event record (`{id, at, kind, service, payload}`). */
export function eventItem(record) {
  const [kindGlyph, label] = KINDS[record.kind] ?? ['•', record.kind];
  const to = record.payload?.to?.status;
  const glyph = record.kind === 'status-changed' && to ? statusGlyph(to) : kindGlyph;
  return h('li', { class: `k-${record.kind}`, dataset: { kind: record.kind, service: record.service ?? '' } },
    timeEl(record.at),
    h('span', { class: `glyph${to ? ` st-${to}` : ''}`, 'aria-hidden': 'true' }, glyph),
    h('span', null, h('span', { class: 'visually-hidden' }, `${label}: `), ...describe(record)));
}

export function render(main, _params, query) {
  const kind = h('select', { id: 'event-kind', 'aria-label': 'Kind of event' },
    h('option', { value: '' }, 'All kinds'),
    Object.entries(KINDS).map(([k, [, label]]) => h('option', { value: k }, label)));
  const service = h('input', {
    type: 'search', id: 'event-service', placeholder: 'Service id', 'aria-label': 'Only the events of this service',
    value: query.get('service') ?? '',
  });
  const list = h('ol', { class: 'timeline', id: 'event-list', 'aria-label': 'Events, newest first' });
  const more = h('button', { type: 'button', id: 'event-more' }, 'Older events');
  const note = h('p', { class: 'muted', role: 'status' });
  const outputsBox = h('section', { class: 'panel section', id: 'outputs', 'aria-labelledby': 'h-outputs', hidden: true });
  main.append(
    h('h1', null, 'Events'),
    outputsBox,
    h('div', { class: 'toolbar', role: 'search' },
      h('label', null, 'Kind ', kind), h('label', null, 'Service ', service)),
    h('section', { class: 'panel' }, list, note, more),
  );

  let records = [];
  let next = null;
  let generation = 0;

  const matches = (r) => (!kind.value || r.kind === kind.value) && (!service.value.trim() || r.service === service.value.trim());
  const draw = () => {
    const shown = records.filter(matches);
    list.replaceChildren(...shown.map(eventItem));
    note.textContent = shown.length ? `${shown.length} events shown` : 'No events match.';
    more.hidden = next == null;
  };

  const load = async (older) => {
    const mine = ++generation;
    try {
      const page = await api.events({ before: older ? next : undefined, service: service.value.trim() || undefined, kind: kind.value || undefined, limit: 200 });
      if (mine !== generation) return;
      records = older ? records.concat(page.events) : page.events;
      next = page.next;
      draw();
    } catch (e) {
      if (mine !== generation) return;
      if (e.code === 'unknown-service') { records = []; next = null; draw(); setRich(note, e.message); return; }
      list.replaceChildren();
      main.append(failure('the events', e));
    }
  };

  // A new filter reads the store again, filtered there (so a rare kind is found however far
  // back it is): what was recorded since the page opened and did not come through the stream
  // (events recorded by another node, or before the stream caught up) is shown too.
  kind.addEventListener('change', () => { draw(); load(false); });
  let debounce = null;
  service.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(() => load(false), 250); });
  more.addEventListener('click', () => load(true));

  const unsubscribe = live.subscribe((change) => {
    if (change.type !== 'event' || !isShown(change.event)) return;
    records = prependLive(records, liveRecord(change.event));
    draw();
  });
  const drawOutputs = async () => {
    let doc;
    try { doc = await api.outputs(); } catch { return; }
    const outputs = doc.outputs ?? [];
    outputsBox.hidden = outputs.length === 0;
    if (!outputs.length) return;
    const th = (text, cls) => h('th', { scope: 'col', class: cls ?? null }, text);
    const td = (text, cls) => h('td', { class: cls ?? null }, text);
    outputsBox.replaceChildren(
      h('h2', { id: 'h-outputs' }, 'Event outputs'),
      h('div', { class: 'table-wrap' }, h('table', { id: 'outputs-table' },
        h('caption', { class: 'visually-hidden' }, 'Event outputs with their outbox depth and lag'),
        h('thead', null, h('tr', null, th('Output'), th('Kind'), th('Waiting', 'num'), th('Lag', 'num'),
          th('Published', 'num'), th('Dropped', 'num'), th('Failures', 'num'), th('State'))),
        h('tbody', null, outputs.map((o) => h('tr', { dataset: { output: o.id } },
          td(o.id), td(o.kind), td(String(o.depth), 'num'), td(`${(o.lag_ms / 1000).toFixed(1)} s`, 'num'),
          td(String(o.published), 'num'), td(String(o.dropped), 'num'), td(String(o.failures), 'num'),
          td(o.healthy ? 'delivering' : `retrying: ${o.last_error ?? 'failed'}`, o.healthy ? 'st-up' : 'st-down'))))))
    );
  };
  drawOutputs();
  const outputsTimer = setInterval(drawOutputs, 5000);
  load(false);
  return () => { unsubscribe(); clearTimeout(debounce); clearInterval(outputsTimer); };
}
