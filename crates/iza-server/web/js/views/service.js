// One service's page: live status, its check, uptime over 1 h / 24 h / 7 d / 30 d, a latency
// chart of its latest results (and the p95 of minute rollups), the latest results, what it
// depends on and what depends on it, for a check probed from several regions each region's
// verdict with the node that probed it ("probed by", also on every result), the agents that watch it with their tasks and recent
// runs (work.js), and its business figures with sparklines (figures.js). Reloaded from `/api/v1/services/{id}` when the stream says something about
// it (at most every 2 s).

import { api } from '../api.js';
import { live } from '../live.js';
import { processPanel } from './process.js';
import { agentWork } from './work.js';
import { artifactsPanel } from './artifacts.js';
import { serviceFigures } from '../figures.js';
import { h, svg, badge, ms, percent, ports, serviceHref, timeEl, ago, failure, rich } from '../dom.js';

export const title = (params) => params[0];

export function render(main, params) {
  const id = params[0];
  const head = h('div');
  const body = h('div');
  main.append(head, body);
  let timer = null;
  let lastLoad = 0;
  let stopped = false;
  // Made once: it keeps its log stream and token prompt across the page's redraws.
  const process = processPanel(id);
  const work = agentWork(id);
  const artifacts = artifactsPanel(id);
  const figures = serviceFigures(id);

  const load = async () => {
    lastLoad = Date.now();
    let data;
    try {
      data = await api.service(id);
    } catch (e) {
      if (stopped) return;
      head.replaceChildren(h('h1', null, id));
      body.replaceChildren(e.code === 'unknown-service'
        ? h('p', { role: 'alert' }, `No service has the id `, h('code', null, id), '. ', h('a', { href: '#/services' }, 'All services'))
        : failure('the service', e));
      return;
    }
    if (stopped) return;
    draw(data);
  };

  const draw = (data) => {
    const def = data.definition ?? {};
    const state = live.status(id) ?? data.state ?? {};
    head.replaceChildren(...[
      h('p', null, h('a', { href: '#/services' }, '← Services')),
      h('h1', null, def.name ?? id, ' ', h('span', { id: 'service-status' }, badge(state.status ?? 'unknown', state.by))),
      def.description ? h('p', { class: 'muted' }, def.description) : null,
    ].filter(Boolean));
    const uptime = data.uptime ?? {};
    const cards = h('div', { class: 'grid cards', 'aria-label': 'Uptime' },
      [['hour', '1 h'], ['day', '24 h'], ['week', '7 d'], ['month', '30 d']].map(([key, label]) =>
        h('div', { class: 'card', dataset: { uptime: key } },
          h('div', { class: 'value' }, percent(uptime[key])), h('div', { class: 'label' }, `Uptime ${label}`))),
      h('div', { class: 'card' }, h('div', { class: 'value' }, ms(state.last?.duration_ms)), h('div', { class: 'label' }, 'Last latency')));

    const link = (s) => h('li', null, h('a', { href: serviceHref(s) }, s), ' ', statusOf(s));
    const links = (list, none) => (list?.length ? h('ul', { class: 'links' }, list.map(link)) : h('p', { class: 'muted' }, none));
    const check = def.check;
    const facts = h('dl', { class: 'kv' },
      h('dt', null, 'Id'), h('dd', { class: 'mono' }, id),
      h('dt', null, 'Group'), h('dd', null, def.group ?? '—'),
      h('dt', null, 'Kind'), h('dd', null, def.kind ?? '—'),
      h('dt', null, 'Ports'), h('dd', { class: 'mono' }, ports(def.ports) || '—'),
      def.docker ? [h('dt', null, 'Docker'), h('dd', { id: 'service-docker' }, dockerText(data.docker, def.docker))] : null,
      h('dt', null, 'Own check'), h('dd', null, state.own ?? '—'),
      h('dt', null, 'Since'), h('dd', null, state.since ? [timeEl(state.since), ` (${ago(state.since)})`] : '—'),
      state.degraded_by ? [h('dt', null, 'Degraded by'), h('dd', { id: 'service-degraded-by' }, rich(state.degraded_by), ' ', h('a', { href: '#/workflows' }, 'Workflows'))] : null,
      state.last?.message ? [h('dt', null, 'Last failure'), h('dd', null, rich(state.last.message))] : null,
      state.last?.node ? [h('dt', null, 'Probed by'), h('dd', { class: 'mono', id: 'service-probed-by' }, probedBy(state.last))] : null);
    const regional = state.regional ? regionsPanel(state.regional) : null;
    const checkBox = check
      ? h('dl', { class: 'kv', id: 'service-check' }, checkFacts(check).map(([k, v]) => [
        h('dt', null, k), h('dd', { class: 'mono' }, v)]))
      : h('p', { class: 'muted' }, 'No check: its status is unknown unless a dependency makes it impacted.');

    const results = data.recent_results ?? [];
    const table = results.length
      ? h('div', { class: 'table-wrap' }, h('table', { id: 'recent-results' },
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Result'),
          h('th', { scope: 'col', class: 'num' }, 'Latency'), h('th', { scope: 'col' }, 'Probed by'),
          h('th', { scope: 'col' }, 'Message'))),
        h('tbody', null, results.slice(0, 20).map((r) => h('tr', null,
          h('td', null, timeEl(r.at)), h('td', null, badge(r.up ? 'up' : 'down')),
          h('td', { class: 'num' }, ms(r.latency_ms)), h('td', { class: 'mono' }, probedBy(r)),
          h('td', null, rich(r.message ?? '')))))))
      : h('p', { class: 'muted' }, 'No results yet.');

    work.show(data.agents ?? []);
    const browser = ['browser', 'compare'].includes(check?.target?.kind);
    if (browser) artifacts.refresh();
    figures.refresh();

    // (`replaceChildren` writes a null as the text "null": the parts not shown are left out.)
    body.replaceChildren(...[
      cards,
      h('div', { class: 'grid two section' },
        h('section', { class: 'panel', 'aria-labelledby': 'h-facts' }, h('h2', { id: 'h-facts' }, 'Service'), facts),
        h('section', { class: 'panel', 'aria-labelledby': 'h-check' }, h('h2', { id: 'h-check' }, 'Check'), checkBox),
        h('section', { class: 'panel', 'aria-labelledby': 'h-deps' },
          h('h2', { id: 'h-deps' }, 'Depends on'), links(data.dependencies, 'Nothing.'),
          h('h2', { id: 'h-dependents' }, 'Needed by'), links(data.dependents, 'Nothing depends on it.'))),
      regional,
      process.element,
      browser ? artifacts.element : null,
      h('section', { class: 'panel section chart', 'aria-labelledby': 'h-latency' },
        h('h2', { id: 'h-latency' }, 'Latency'), chart(results, data.rollups?.minute ?? [])),
      figures.element,
      work.element,
      h('section', { class: 'panel section', 'aria-labelledby': 'h-results' }, h('h2', { id: 'h-results' }, 'Latest results'), table),
      h('p', null, h('a', { href: `#/graph?focus=${encodeURIComponent(id)}` }, 'Show in the graph'), ' · ',
        h('a', { href: `#/events?service=${encodeURIComponent(id)}` }, 'Events of this service')),
    ].filter(Boolean));
  };

  const unsubscribe = live.subscribe((change) => {
    if (change.type === 'event' && change.event.service === id && change.event.kind.startsWith('process-')) {
      process.refresh();
    }
    const touches = change.type === 'snapshot'
      || (change.type === 'event' && (change.event.service === id || change.event.kind === 'manifest-reloaded'));
    if (!touches || timer) return;
    timer = setTimeout(() => { timer = null; load(); }, Math.max(0, 2000 - (Date.now() - lastLoad)));
  });
  load();
  return () => { stopped = true; unsubscribe(); clearTimeout(timer); process.close(); work.close(); };
}

/** Who probed a result: the node, and its region in brackets; a dash when not recorded. */
function probedBy(result) {
  if (!result?.node) return '—';
  return result.region ? `${result.node} (${result.region})` : result.node;
}

/** A check probed from several regions: the quorum, the regional problem, each region's verdict. */
function regionsPanel(regional) {
  const rows = (regional.regions ?? []).map((r) => h('tr', { dataset: { region: r.region } },
    h('th', { scope: 'row' }, r.region),
    h('td', null, r.unprobed ? h('span', { class: 'muted' }, 'no live node') : badge(r.own ?? 'unknown')),
    h('td', { class: 'mono' }, probedBy(r.last)),
    h('td', null, r.last ? timeEl(r.last.at) : '—'),
    h('td', null, rich(r.last?.message ?? ''))));
  return h('section', { class: 'panel section', id: 'service-regions', 'aria-labelledby': 'h-regions' },
    h('h2', { id: 'h-regions' }, 'Regions'),
    h('p', null, `Down when ${regional.quorum} of ${(regional.regions ?? []).length} regions see it down.`),
    regional.problem ? h('p', { role: 'status', id: 'regional-problem' }, regional.problem) : null,
    h('div', { class: 'table-wrap' }, h('table', null,
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Region'), h('th', { scope: 'col' }, 'Verdict'),
        h('th', { scope: 'col' }, 'Probed by'), h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Message'))),
      h('tbody', null, rows))));
}

/** The check as `[label, text]` pairs: the target first, then what is set (empty values left out). */
/** Keys of a check that mean something only for some kinds (the others always do). */
const KEYS_OF_KINDS = {
  method: ['http'], headers: ['http'], body: ['http'], follow_redirects: ['http'],
  verify_tls: ['http', 'tls', 'redis', 'amqp', 'postgres', 'mcp'], record: ['dns'], shell: ['exec'],
};

function checkFacts(check) {
  const facts = [];
  const t = check.target;
  if (t?.kind === 'browser') {
    facts.push(['browser', t.target.url]);
    if (t.target.wait_for) facts.push(['wait for', t.target.wait_for.value]);
    // A journey's steps as written; a `fill` value is masked by the server.
    if (t.target.steps?.length) facts.push(['steps', t.target.steps.map((s) => `${s.step} ${s.url ?? s.selector ?? s.key ?? s.text ?? s.name ?? s.target?.value ?? ''}`).join(' → ')]);
  } else if (t?.kind === 'compare') {
    facts.push(['original', t.target.original], ['replica', t.target.replica]);
    if (t.target.wait_for) facts.push(['wait for', t.target.wait_for.value]);
  } else if (t) facts.push([t.kind ?? 'target', t.target ?? JSON.stringify(t)]);
  for (const [key, value] of Object.entries(check)) {
    if (key === 'target' || value == null || value === false) continue;
    if (KEYS_OF_KINDS[key] && t?.kind && !KEYS_OF_KINDS[key].includes(t.kind)) continue;
    if (Array.isArray(value) && value.length === 0) continue;
    if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) continue;
    // Conditions as written in the manifest (`[STATUS] == 200`), not their parsed form.
    const item = (v) => (typeof v === 'object' ? v.text ?? JSON.stringify(v) : String(v));
    const text = Array.isArray(value) ? value.map(item).join('; ') : item(value);
    facts.push([key.replaceAll('_', ' '), text]);
  }
  return facts;
}

function statusOf(id) {
  const s = live.status(id);
  return s ? badge(s.status, s.by) : '';
}

/** A line chart of latencies (oldest left) with failures marked, and minute p95 dashed. */
function chart(results, minutes) {
  const points = [...results].reverse();
  if (points.length < 2) return h('p', { class: 'muted' }, 'Not enough results for a chart yet.');
  const W = 800, H = 180, L = 44, B = 20, T = 8;
  const t0 = points[0].at;
  const t1 = Math.max(points[points.length - 1].at, t0 + 1);
  // Minute buckets over the span of the results (each drawn at its middle).
  minutes = minutes.filter((m) => m.start + 30000 >= t0 && m.start + 30000 <= t1);
  const values = points.map((p) => p.latency_ms ?? 0).concat(minutes.map((m) => m.p95_ms ?? 0));
  const max = Math.max(1, ...values) * 1.1;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - 4);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img',
    'aria-label': `Latency of the latest ${points.length} results, from ${ms(Math.min(...points.map((p) => p.latency_ms ?? 0)))} to ${ms(Math.max(...points.map((p) => p.latency_ms ?? 0)))}` });
  root.append(svg('line', { class: 'axis', x1: L, y1: H - B, x2: W, y2: H - B }), svg('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }));
  for (const v of [0, max / 2, max / 1.1]) {
    const label = svg('text', { x: 2, y: y(v) + 3 });
    label.textContent = ms(v);
    root.append(label);
  }
  root.append(svg('path', { class: 'line', d: points.map((p, i) => `${i ? 'L' : 'M'}${x(p.at).toFixed(1)},${y(p.latency_ms ?? 0).toFixed(1)}`).join('') }));
  const rolled = minutes.filter((m) => m.p95_ms != null);
  if (rolled.length > 1) {
    root.append(svg('path', { class: 'line p95', d: rolled.map((m, i) => `${i ? 'L' : 'M'}${x(m.start + 30000).toFixed(1)},${y(m.p95_ms).toFixed(1)}`).join('') }));
  }
  for (const p of points.filter((p) => !p.up)) root.append(svg('circle', { class: 'fail', cx: x(p.at), cy: y(p.latency_ms ?? 0), r: 3 }));
  return h('div', null, root, h('p', { class: 'muted' }, 'Solid: each result (red dots: failures). Dashed: p95 per minute.'));
}

/** The container of a service with a Docker reference, as the server read it from the engine;
 *  without one, says that the service is external and only probed, and why. */
function dockerText(docker, reference) {
  const ref = h('span', { class: 'mono' }, reference);
  const engine = docker?.engine ?? { state: 'unused' };
  if (engine.state === 'connected') {
    const c = docker.container;
    return c
      ? [ref, ` — container ${c.name}: ${c.state}${c.status ? ` (${c.status})` : ''}`]
      : [ref, ' — no such container on the Docker engine: external, only probed'];
  }
  if (engine.state === 'unreachable') {
    return [ref, ` — external, only probed (no Docker engine: ${engine.reason})`];
  }
  return [ref, ' — external, only probed'];
}
