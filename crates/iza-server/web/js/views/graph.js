// Network graph page: the graph (graph.js) with a search box, zoom buttons, a legend and a
// details panel for the selected service. Statuses follow the live stream; a reloaded
// manifest redraws the graph. `#/graph?focus=ID` selects and centres a service.

import { api } from '../api.js';
import { live } from '../live.js';
import { GraphView } from '../graph.js';
import { h, badge, ms, ports, serviceHref, failure, glyph, word, STATUSES } from '../dom.js';

export const title = () => 'Network graph';

export function render(main, _params, query) {
  main.classList.add('wide');
  const search = h('input', {
    type: 'search', id: 'graph-search', placeholder: 'Find a service (/)', 'aria-label': 'Find a service',
    autocomplete: 'off', 'aria-describedby': 'graph-found',
  });
  const found = h('span', { id: 'graph-found', class: 'muted', role: 'status' });
  const box = h('div', { class: 'graph-box', id: 'graph-box' });
  const details = h('aside', { class: 'panel details', id: 'graph-details', 'aria-label': 'Selected service', 'aria-live': 'polite' },
    h('p', { class: 'muted' }, 'Select a service (click, or Tab and Enter) to see its details.'));
  const button = (label, text, fn) => h('button', { type: 'button', 'aria-label': label, title: label, onclick: fn }, text);
  main.append(
    h('h1', { class: 'visually-hidden' }, 'Network graph'),
    h('div', { class: 'toolbar', role: 'search' }, search, found,
      h('a', { href: '#/services', class: 'hide-narrow' }, 'Table of services')),
    h('div', { class: 'graph-layout' }, box, details),
  );
  const legend = h('div', { class: 'legend', 'aria-label': 'Legend' },
    h('span', null, h('span', { class: 'line', 'aria-hidden': 'true' }), ' depends on'),
    h('span', null, h('span', { class: 'line flow', 'aria-hidden': 'true' }), ' data flow'),
    ...STATUSES.map((s) => h('span', null, glyph(s), ' ', word(s).toLowerCase())));

  let data = null;
  const view = new GraphView(box, { onSelect: (id) => showDetails(id) });
  box.append(h('div', { class: 'graph-controls' },
    button('Zoom in (+)', '+', () => view.zoomBy(1.25)),
    button('Zoom out (-)', '−', () => view.zoomBy(0.8)),
    button('Fit the graph (0)', '⤢', () => view.fit())), legend);

  const showDetails = (id) => {
    if (!id || !data) {
      details.replaceChildren(h('p', { class: 'muted' }, 'Select a service (click, or Tab and Enter) to see its details.'));
      return;
    }
    const node = data.nodes.find((n) => n.id === id);
    const state = live.status(id);
    const out = data.edges.filter((e) => e.from === id);
    const into = data.edges.filter((e) => e.to === id);
    const list = (edges, end, label) => {
      const items = edges.map((e) => h('li', null, h('a', { href: serviceHref(e[end]) }, e[end]),
        e.kind !== 'depends' ? h('span', { class: 'muted' }, ` (${e.kind}${e.via ? ` via ${e.via}` : ''})`) : null));
      return [h('h3', null, label), items.length ? h('ul', { class: 'links' }, items) : h('p', { class: 'muted' }, 'none')];
    };
    const group = data.groups?.find((g) => g.id === node?.group);
    details.replaceChildren(
      h('h2', { id: 'details-title' }, node?.name ?? id),
      h('p', null, badge(state?.status ?? 'unknown', state?.by)),
      h('dl', null,
        h('dt', null, 'Id'), h('dd', { class: 'mono' }, id),
        h('dt', null, 'Group'), h('dd', null, group?.name ?? node?.group ?? '—'),
        h('dt', null, 'Kind'), h('dd', null, node?.kind ?? '—'),
        h('dt', null, 'Ports'), h('dd', null, ports(node?.ports) || '—'),
        h('dt', null, 'Latency'), h('dd', null, ms(state?.last?.duration_ms)),
        state?.last?.message ? [h('dt', null, 'Last failure'), h('dd', null, state.last.message)] : null),
      ...list(out.filter((e) => e.kind === 'depends'), 'to', 'Depends on'),
      ...list(into.filter((e) => e.kind === 'depends'), 'from', 'Needed by'),
      ...list(out.filter((e) => e.kind !== 'depends'), 'to', 'Sends to'),
      ...list(into.filter((e) => e.kind !== 'depends'), 'from', 'Receives from'),
      h('p', null, h('a', { href: serviceHref(id), id: 'details-link' }, 'Open the service page →')),
    );
  };

  const go = () => {
    const ids = view.search(search.value);
    found.textContent = search.value.trim() ? `${ids.length} found` : '';
    return ids;
  };
  search.addEventListener('input', go);
  search.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter') return;
    const ids = go();
    if (ids.length) {
      view.center(ids[0]);
      view.select(ids[0]);
    }
  });

  const unsubscribe = live.subscribe((change) => {
    if (!data) return;
    if (change.type === 'snapshot') {
      for (const id of view.nodes.keys()) view.update(id, live.status(id));
    } else if (change.type === 'event') {
      const e = change.event;
      if (e.kind === 'manifest-reloaded') { load(); return; }
      if (e.service && e.kind !== 'probe-completed') {
        view.update(e.service, live.status(e.service));
        if (view.selected?.data.id === e.service) showDetails(e.service);
      }
    }
  });

  const load = async () => {
    try {
      data = await api.graph();
      performance.mark('graph-fetched');
      view.setData(data, (id) => live.status(id));
      performance.mark('graph-built');
      const focus = query.get('focus');
      if (focus && view.nodes.has(focus)) { view.center(focus); view.select(focus); }
      // Marked once the first frame with the graph is painted (bench/graph-render.mjs reads it).
      requestAnimationFrame(() => requestAnimationFrame(() => {
        if (!performance.getEntriesByName('graph-rendered').length) performance.mark('graph-rendered');
        box.dataset.rendered = 'true';
      }));
    } catch (e) {
      box.replaceChildren(failure('the graph', e));
    }
  };
  load();
  const onResize = () => view.fit();
  window.addEventListener('resize', onResize);
  return () => { unsubscribe(); window.removeEventListener('resize', onResize); };
}
