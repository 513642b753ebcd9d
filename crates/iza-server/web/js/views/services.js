// Services: every service in a table, sortable (click or Enter on a column header) and
// filterable (text over id, name, group, kind, ports; status). Statuses and latencies follow
// the live stream without reloading. `#/services?status=down` opens it filtered.

import { api } from '../api.js';
import { live } from '../live.js';
import { h, badge, ms, ports, serviceHref, ago, perFrame, failure, STATUSES, word } from '../dom.js';

export const title = () => 'Services';

/** Rows drawn at first; "Show all" draws the rest (10,000 rows take a while to lay out). */
const FIRST_ROWS = 500;

const ORDER = { down: 0, impacted: 1, degraded: 2, unknown: 3, up: 4 };
const COLUMNS = [
  ['status', 'Status', (r) => ORDER[r.status] ?? 9],
  ['id', 'Service', (r) => r.id],
  ['group', 'Group', (r) => r.groupName ?? ''],
  ['kind', 'Kind', (r) => r.kind ?? ''],
  ['ports', 'Ports', (r) => firstPort(r.ports)],
  ['latency', 'Latency', (r) => r.last?.duration_ms ?? Infinity],
  ['since', 'Since', (r) => -(r.since ?? 0)],
];

function firstPort(list) {
  const p = (list ?? [])[0];
  return p == null ? Infinity : Array.isArray(p) ? p[0] : p;
}

export function render(main, _params, query) {
  const text = h('input', { type: 'search', id: 'service-filter', placeholder: 'Filter (/)', 'aria-label': 'Filter services by id, name, group, kind or port' });
  const status = h('select', { id: 'status-filter', 'aria-label': 'Only this status' },
    h('option', { value: '' }, 'Any status'), STATUSES.map((s) => h('option', { value: s }, word(s))));
  status.value = query.get('status') ?? '';
  const count = h('span', { class: 'muted', role: 'status', id: 'service-count' });
  const head = h('tr');
  const body = h('tbody', { id: 'service-rows' });
  const table = h('table', { id: 'service-table', 'aria-describedby': 'service-count' },
    h('caption', { class: 'visually-hidden' }, 'Services, with live status. Column headers sort.'),
    h('thead', null, head), body);
  main.append(
    h('h1', null, 'Services'),
    h('div', { class: 'toolbar', role: 'search' }, text, status, count),
    h('div', { class: 'panel table-wrap' }, table),
  );

  let rows = [];
  let sort = { key: 'status', dir: 1 };
  let all = false;
  const more = h('button', { type: 'button', id: 'service-more', hidden: true, onclick: () => { all = true; draw(); } });
  main.querySelector('.panel').append(more);
  const headers = COLUMNS.map(([key, label]) => {
    const th = h('th', { scope: 'col', class: key === 'latency' ? 'num' : key === 'since' ? 'hide-narrow' : null },
      h('button', { type: 'button', onclick: () => { sort = { key, dir: sort.key === key ? -sort.dir : 1 }; draw(); } }, label));
    return [key, th];
  });
  head.append(...headers.map(([, th]) => th));

  const draw = () => {
    for (const [key, th] of headers) {
      if (key === sort.key) th.setAttribute('aria-sort', sort.dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
    const q = text.value.trim().toLowerCase();
    const wanted = status.value;
    const value = COLUMNS.find(([key]) => key === sort.key)[2];
    const shown = rows.map((r) => Object.assign(r, live.status(r.id) ? pick(live.status(r.id)) : {}))
      .filter((r) => (!wanted || r.status === wanted)
        && (!q || [r.id, r.name, r.groupName, r.kind, ports(r.ports)].some((v) => v && String(v).toLowerCase().includes(q))))
      .sort((a, b) => {
        const x = value(a), y = value(b);
        return (x < y ? -1 : x > y ? 1 : a.id.localeCompare(b.id)) * sort.dir;
      });
    const drawn = all ? shown : shown.slice(0, FIRST_ROWS);
    more.hidden = drawn.length === shown.length;
    more.textContent = `Show all ${shown.length} services`;
    body.replaceChildren(...drawn.map((r) => h('tr', { dataset: { id: r.id, status: r.status } },
      h('td', null, badge(r.status, r.by)),
      h('td', null, h('a', { href: serviceHref(r.id) }, r.id), r.name && r.name !== r.id ? h('div', { class: 'muted' }, r.name) : null),
      h('td', null, r.groupName ?? '—'),
      h('td', null, r.kind ?? '—'),
      h('td', { class: 'mono' }, ports(r.ports) || '—'),
      h('td', { class: 'num' }, ms(r.last?.duration_ms)),
      h('td', { class: 'hide-narrow' }, ago(r.since)))));
    count.textContent = drawn.length < shown.length
      ? `${shown.length} of ${rows.length} services (first ${drawn.length} shown)`
      : `${shown.length} of ${rows.length} services`;
  };
  const redraw = perFrame(draw);
  // Latencies change with every probe: those redraws wait a second; status changes do not.
  let latencyTimer = null;
  const redrawSoon = () => {
    if (latencyTimer) return;
    latencyTimer = setTimeout(() => { latencyTimer = null; redraw(); }, 1000);
  };
  text.addEventListener('input', redraw);
  status.addEventListener('change', () => {
    const q = status.value ? `?status=${status.value}` : '';
    history.replaceState(null, '', `#/services${q}`);
    redraw();
  });

  const unsubscribe = live.subscribe((change) => {
    if (change.type === 'snapshot') redraw();
    else if (change.type === 'event') {
      if (change.event.kind === 'manifest-reloaded') load();
      else if (change.event.kind === 'probe-completed') redrawSoon();
      else if (change.event.service) redraw();
    }
  });

  const load = async () => {
    try {
      const [list, graph] = await Promise.all([api.services(), api.graph()]);
      const names = new Map((graph.groups ?? []).map((g) => [g.id, g.name]));
      rows = list.services.map((r) => ({ ...r, groupName: r.group ? names.get(r.group) ?? r.group : null }));
      draw();
    } catch (e) {
      main.append(failure('the services', e));
    }
  };
  load();
  return () => { unsubscribe(); clearTimeout(latencyTimer); };
}

function pick(state) {
  return { status: state.status, by: state.by ?? null, last: state.last ?? null, since: state.since ?? null };
}
