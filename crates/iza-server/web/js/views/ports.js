// Ports: the port map (`/api/v1/ports`): every port with its service, conflicts first and
// marked, the policy range and the free ranges left in it.

import { api } from '../api.js';
import { h, serviceHref, failure } from '../dom.js';

export const title = () => 'Ports';

export function render(main) {
  main.append(h('h1', null, 'Ports'));
  (async () => {
    let map;
    try {
      map = await api.ports();
    } catch (e) {
      main.append(failure('the port map', e));
      return;
    }
    const policy = map.policy ?? null;
    const conflicts = map.conflicts ?? [];
    const cards = h('div', { class: 'grid cards' },
      h('div', { class: 'card' }, h('div', { class: 'value' }, (map.ports ?? []).length), h('div', { class: 'label' }, 'Ports mapped')),
      h('div', { class: `card${conflicts.length ? ' st-down' : ''}` },
        h('div', { class: 'value' }, conflicts.length),
        h('div', { class: 'label' }, conflicts.length ? '✕ Conflicts' : '✓ Conflicts')),
      h('div', { class: 'card' }, h('div', { class: 'value' }, map.free_ports ?? '—'), h('div', { class: 'label' }, 'Free ports in the policy')),
      h('div', { class: 'card' }, h('div', { class: 'value mono' }, policy ?? 'none'), h('div', { class: 'label' }, 'Policy range')));
    const start = (p) => parseInt(String(p.port), 10);
    const rows = [...(map.ports ?? [])].sort((a, b) => (b.conflict - a.conflict) || start(a) - start(b));
    // A port is a number, a range a string `START-END`; ranges sort by their start.
    const portText = (p) => String(p.port);
    const table = h('table', { id: 'port-table' },
      h('caption', { class: 'visually-hidden' }, 'Ports, conflicts first'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col', class: 'num' }, 'Port'), h('th', { scope: 'col' }, 'Service'),
        h('th', { scope: 'col' }, 'Conflict'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Note'))),
      h('tbody', null, rows.map((p) => h('tr', { class: p.conflict ? 'conflict' : null, dataset: { port: portText(p) } },
        h('td', { class: 'num mono' }, portText(p)),
        h('td', null, h('a', { href: serviceHref(p.service) }, p.service), p.name && p.name !== p.service ? h('span', { class: 'muted' }, ` ${p.name}`) : null,
          p.parent ? h('span', { class: 'muted' }, ` (under ${p.parent})`) : null),
        h('td', null, p.conflict ? h('span', { class: 'badge st-down' }, '✕ conflict') : h('span', { class: 'muted' }, 'no')),
        h('td', { class: 'hide-narrow' }, p.note ?? '')))));
    const conflictList = conflicts.length
      ? h('ul', { id: 'port-conflicts' }, conflicts.map((c) => h('li', null, describeConflict(c))))
      : h('p', { class: 'muted' }, 'No two services claim the same port.');
    const free = (map.free ?? []).map(String);
    main.append(cards,
      h('section', { class: 'panel section', 'aria-labelledby': 'h-conflicts' }, h('h2', { id: 'h-conflicts' }, 'Conflicts'), conflictList),
      h('section', { class: 'panel section table-wrap', 'aria-labelledby': 'h-ports' }, h('h2', { id: 'h-ports' }, 'Port map'), table),
      h('section', { class: 'panel section', 'aria-labelledby': 'h-free' }, h('h2', { id: 'h-free' }, 'Free ranges'),
        free.length ? h('p', { class: 'mono' }, free.slice(0, 50).join(', '), free.length > 50 ? ` … (${free.length} ranges)` : '') : h('p', { class: 'muted' }, 'No policy range, or none free.')));
  })();
}

function describeConflict(c) {
  return [h('strong', { class: 'mono' }, String(c.port)), ' ',
    ...(c.services ?? []).flatMap((s, i) => [i ? ', ' : '', h('a', { href: serviceHref(s) }, s)]),
    h('span', { class: 'muted' }, ` — ${c.message}`)];
}
