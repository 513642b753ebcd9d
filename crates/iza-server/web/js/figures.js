// Business figures (docs/metrics.md) on the dashboard: the overview's panel (each figure over
// the ecosystem, its sum per group, and the claims beside what is measured) and a service's
// sparklines (one per figure it declares, from `/api/v1/figures/{service}/{figure}`).

import { api } from './api.js';
import { h, svg } from './dom.js';

const text = (v) => v?.display ?? '—';

/** The overview's panel: refreshes itself every 10 s while shown; `close()` stops it. */
export function figuresPanel() {
  const body = h('div', { id: 'business-figures' }, h('p', { class: 'muted' }, 'Loading…'));
  const element = h('section', { class: 'panel section', 'aria-labelledby': 'h-business' },
    h('h2', { id: 'h-business' }, 'Business figures'), body);
  let stopped = false;
  const draw = (doc) => {
    const figures = doc.figures ?? [];
    if (figures.length === 0) {
      element.hidden = true;
      return;
    }
    element.hidden = false;
    const claims = doc.claims ?? [];
    body.replaceChildren(
      claims.length ? h('div', { class: 'grid cards figure-cards' }, claims.map((c) => h('div', { class: 'card', dataset: { claim: c.figure } },
        h('div', { class: 'value' }, text(c)),
        h('div', { class: 'label' }, c.label),
        h('div', { class: 'claim' }, `claimed: ${c.claimed}`)))) : null,
      h('div', { class: 'table-wrap' }, h('table', { id: 'figure-table' },
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Figure'), h('th', { scope: 'col' }, 'Ecosystem'),
          h('th', { scope: 'col', class: 'hide-narrow' }, 'By group'), h('th', { scope: 'col' }, 'By service'))),
        h('tbody', null, figures.map((f) => h('tr', null,
          h('td', null, f.label, h('span', { class: 'muted' }, ` (${f.aggregate})`)),
          h('td', { class: 'num' }, text(f)),
          // On a phone the groups give way to the services (each a link).
          h('td', { class: 'hide-narrow' }, (f.groups ?? []).map((g) => h('div', null, `${g.id}: ${text(g)}`))),
          h('td', null, (f.services ?? []).map((s) => h('div', { title: s.error ?? '' },
            h('a', { href: `#/services/${encodeURIComponent(s.id)}` }, s.id), `: ${text(s)}`,
            s.error ? h('span', { class: 'muted' }, ' (failing)') : null)))))))),
    );
  };
  const load = async () => {
    if (stopped) return;
    try {
      draw(await api.figures());
    } catch (e) {
      body.replaceChildren(h('p', { class: 'muted' }, `Figures unavailable: ${e.message}`));
    }
    if (!stopped) timer = setTimeout(load, 10_000);
  };
  let timer = null;
  load();
  return { element, close: () => { stopped = true; clearTimeout(timer); } };
}

/** A service's figures, each with a sparkline of the last 24 hours. */
export function serviceFigures(id) {
  const element = h('section', { class: 'panel section', 'aria-labelledby': 'h-service-figures', hidden: true },
    h('h2', { id: 'h-service-figures' }, 'Business figures'));
  const list = h('div', { class: 'grid cards figure-cards' });
  element.append(list);
  const refresh = async () => {
    let doc;
    try {
      doc = await api.figures();
    } catch {
      return;
    }
    const mine = (doc.figures ?? []).flatMap((f) => (f.services ?? []).filter((s) => s.id === id).map((s) => ({ f, s })));
    element.hidden = mine.length === 0;
    const cards = await Promise.all(mine.map(async ({ f, s }) => {
      let points = [];
      try {
        points = (await api.figureSeries(id, f.name)).points ?? [];
      } catch {
        // A figure not read yet has no history.
      }
      return h('div', { class: 'card', dataset: { figure: f.name } },
        h('div', { class: 'value' }, text(s)),
        h('div', { class: 'label' }, f.label),
        sparkline(points, f.label),
        s.error ? h('div', { class: 'claim' }, s.error) : null);
    }));
    list.replaceChildren(...cards);
  };
  return { element, refresh };
}

/** A small line of the points' `last` values, scaled to its own range. */
function sparkline(points, label) {
  const W = 160, H = 36;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'sparkline', role: 'img', preserveAspectRatio: 'none',
    'aria-label': `${label}: ${points.length} points` });
  if (points.length < 2) return root;
  const values = points.map((p) => p.last);
  const lo = Math.min(...values), hi = Math.max(...values);
  const t0 = points[0].at, t1 = points[points.length - 1].at;
  const x = (at) => ((at - t0) / Math.max(1, t1 - t0)) * W;
  // A flat series (a figure that has not changed) is drawn across the middle, not along the floor.
  const y = (v) => (hi === lo ? H / 2 : H - 2 - ((v - lo) / (hi - lo)) * (H - 4));
  root.append(svg('path', { class: 'line', d: points.map((p, i) => `${i ? 'L' : 'M'}${x(p.at).toFixed(1)},${y(p.last).toFixed(1)}`).join('') }));
  return root;
}
