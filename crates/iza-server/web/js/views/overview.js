// Overview: the seed's executive summary as live figures (services mapped beside the figure
// the ecosystem claims, statuses, ports, Docker services, MCP servers, agents, tasks), health
// by group and the latest events. Statuses follow the live stream; events arriving on it are
// prepended.

import { api } from '../api.js';
import { live } from '../live.js';
import { h, glyph, word, STATUSES, perFrame, failure } from '../dom.js';
import { eventItem, isShown, liveRecord, prependLive } from './events.js';
import { figuresPanel } from '../figures.js';

export const title = () => 'Overview';

const isRunEvent = (kind) => kind.startsWith('run-');

const FIGURES = [
  ['services', 'Services mapped', 'services'],
  ['ports', 'Ports in use', 'ports'],
  ['docker_services', 'Docker services', 'docker-services'],
  ['mcp_servers', 'MCP servers', 'mcp-servers'],
  ['workflow_engines', 'Workflow engines', 'workflow-engines'],
  ['agents', 'Agents', 'agents'],
  ['tasks', 'Tasks', 'tasks'],
];

export function render(main) {
  const statusCards = h('div', { class: 'grid cards', id: 'status-cards' });
  const figureCards = h('div', { class: 'grid cards', id: 'figure-cards' });
  const groups = h('ul', { class: 'bars', id: 'group-health', 'aria-label': 'Health by group' });
  const latest = h('ol', { class: 'timeline', id: 'latest-events', 'aria-label': 'Latest events' });
  const claims = h('div', { class: 'table-wrap' });
  const docker = h('p', { class: 'muted', id: 'docker-engine' });
  const business = figuresPanel();
  main.append(
    h('h1', null, 'Overview'),
    h('section', { 'aria-labelledby': 'h-status' },
      h('h2', { id: 'h-status', class: 'visually-hidden' }, 'Live status'), statusCards),
    h('section', { class: 'section', 'aria-labelledby': 'h-figures' },
      h('h2', { id: 'h-figures', class: 'visually-hidden' }, 'Ecosystem figures'), figureCards, docker),
    h('div', { class: 'grid two section' },
      h('section', { class: 'panel', 'aria-labelledby': 'h-groups' },
        h('h2', { id: 'h-groups' }, 'Health by group'), groups),
      h('section', { class: 'panel', 'aria-labelledby': 'h-latest' },
        h('h2', { id: 'h-latest' }, 'Latest events'), latest,
        h('p', null, h('a', { href: '#/events' }, 'All events →')))),
    h('section', { class: 'panel section', 'aria-labelledby': 'h-claims' },
      h('h2', { id: 'h-claims' }, 'Claimed and mapped'), claims),
    business.element,
  );

  let graph = null; // group names
  let summary = null;

  const drawStatus = () => {
    const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    for (const s of live.services.values()) counts[s.status] = (counts[s.status] ?? 0) + 1;
    const total = live.services.size;
    statusCards.replaceChildren(
      h('div', { class: 'card', dataset: { figure: 'total' } },
        h('div', { class: 'value' }, total), h('div', { class: 'label' }, 'Services watched')),
      ...STATUSES.map((s) => h('a', {
        class: `card st-${s}`, href: '#/services?status=' + s, dataset: { status: s },
        'aria-label': `${counts[s]} ${word(s).toLowerCase()}`,
      },
      h('div', { class: 'value' }, counts[s]),
      h('div', { class: 'label' }, h('span', { 'aria-hidden': 'true' }, glyph(s), ' '), word(s)))),
    );
    drawGroups();
  };

  const drawGroups = () => {
    if (!graph) return;
    const names = new Map((graph.groups ?? []).map((g) => [g.id, g.name]));
    const byGroup = new Map();
    for (const node of graph.nodes) {
      const key = node.group ?? '';
      if (!byGroup.has(key)) byGroup.set(key, Object.fromEntries(STATUSES.map((s) => [s, 0])));
      const status = live.status(node.id)?.status ?? 'unknown';
      byGroup.get(key)[status] += 1;
    }
    const rows = [...byGroup.entries()].map(([group, counts]) => {
      const total = STATUSES.reduce((n, s) => n + counts[s], 0);
      const text = STATUSES.filter((s) => counts[s]).map((s) => `${counts[s]} ${word(s).toLowerCase()}`).join(', ');
      const bar = h('div', { class: 'bar', role: 'img', 'aria-label': text });
      for (const s of STATUSES) {
        if (!counts[s]) continue;
        const span = h('span', { class: `st-${s}`, title: `${counts[s]} ${word(s).toLowerCase()}` });
        span.style.width = `${(counts[s] / total) * 100}%`;
        bar.append(span);
      }
      const bad = counts.down + counts.impacted + counts.degraded;
      return h('li', null,
        h('span', null, group ? names.get(group) ?? group : 'No group'),
        bar,
        h('span', { class: 'muted' }, bad ? `${glyph('down')} ${bad}/${total}` : `${counts.up}/${total} up`));
    });
    groups.replaceChildren(...rows);
  };

  const drawFigures = () => {
    if (!summary) return;
    docker.replaceChildren(dockerLine(summary.docker));
    const claimOf = new Map((summary.claims ?? []).filter((c) => c.counts).map((c) => [c.counts, c]));
    figureCards.replaceChildren(...FIGURES.map(([key, label, metric]) => {
      const claim = claimOf.get(metric);
      // Agents and tasks lead to the Execution page, where they work.
      const work = key === 'agents' || key === 'tasks';
      return h(work ? 'a' : 'div', { class: 'card', href: work ? '#/execution' : null, dataset: { figure: key } },
        h('div', { class: 'value' }, summary.figures?.[key] ?? '—'),
        h('div', { class: 'label' }, label),
        claim ? h('div', { class: 'claim' }, `claimed: ${claim.claimed}`) : null);
    }));
    const list = summary.claims ?? [];
    claims.replaceChildren(list.length === 0
      ? h('p', { class: 'muted' }, 'The manifest claims no figures (`[[ecosystem.claims]]`).')
      : h('table', null,
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Figure'), h('th', { scope: 'col' }, 'Claimed'), h('th', { scope: 'col' }, 'Mapped'))),
        h('tbody', null, list.map((c) => h('tr', null, h('td', null, c.label), h('td', null, c.claimed), h('td', null, c.mapped ?? '—'))))));
  };

  const drawEvents = (list) => {
    latest.replaceChildren(...(list.length ? list.map(eventItem) : [h('li', { class: 'muted' }, 'No events yet.')]));
  };

  const redraw = perFrame(drawStatus);
  let latestEvents = [];
  const unsubscribe = live.subscribe((change) => {
    if (change.type === 'snapshot') redraw();
    if (change.type !== 'event') return;
    const e = change.event;
    if (e.kind === 'status-changed' || e.kind === 'service-impacted' || e.kind === 'service-recovered') redraw();
    if (e.kind === 'manifest-reloaded') load();
    if (isShown(e) && !isRunEvent(e.kind)) {
      latestEvents = prependLive(latestEvents, liveRecord(e)).slice(0, 10);
      drawEvents(latestEvents);
    }
  });

  const load = async () => {
    try {
      const [s, g, ev] = await Promise.all([api.summary(), api.graph(), api.events({ limit: 200 })]);
      summary = s;
      graph = g;
      // A task every second makes three run events a second: they are on the Execution and
      // Events pages; the overview keeps the ecosystem's own (and incidents).
      latestEvents = ev.events.filter((r) => !isRunEvent(r.kind)).slice(0, 10);
      drawFigures();
      drawEvents(latestEvents);
      drawStatus();
    } catch (e) {
      main.append(failure('the overview', e));
    }
  };
  drawStatus();
  load();
  return () => { unsubscribe(); business.close(); };
}

/** Whether the Docker services' containers are read from an engine, or only probed. */
function dockerLine(docker) {
  const engine = docker?.engine ?? { state: 'unused' };
  const services = docker?.services ?? 0;
  if (services === 0) return 'No service names a Docker container.';
  if (engine.state === 'connected') {
    return `Docker engine ${engine.version}: ${docker.running} of ${services} containers running, shown beside their checks.`;
  }
  if (engine.state === 'unreachable') {
    return `No Docker engine answers (${engine.reason}): the ${services} Docker services are external, only probed.`;
  }
  return `The ${services} Docker services are external, only probed.`;
}
