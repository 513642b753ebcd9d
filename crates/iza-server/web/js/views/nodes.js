// Nodes: the `iza` nodes sharing this server's PostgreSQL store (`/api/v1/nodes`): each one's
// health (alive or gone, heartbeat age), region, version and how many checks it probes (holds
// the lease of). Refreshed every 2 s while shown. On the embedded store: one node, said so.

import { api } from '../api.js';
import { h, ago, failure } from '../dom.js';

export const title = () => 'Nodes';

export function render(main) {
  main.append(h('h1', null, 'Nodes'));
  const body = h('div', { id: 'nodes-body' }, h('p', { class: 'muted' }, 'Loading…'));
  main.append(body);
  let stopped = false;
  const load = async () => {
    let list;
    try {
      list = await api.nodes();
    } catch (e) {
      body.replaceChildren(failure('the nodes', e));
      return;
    }
    if (!list.shared) {
      body.replaceChildren(h('p', { class: 'muted' },
        'This server keeps an embedded (SQLite) store: it is the only node and probes every check. Several nodes share a PostgreSQL store (docs/scale-out.md).'));
      return;
    }
    const nodes = list.nodes ?? [];
    const alive = nodes.filter((n) => n.alive).length;
    const cards = h('div', { class: 'grid cards' },
      h('div', { class: 'card', dataset: { card: 'alive' } }, h('div', { class: 'value' }, alive), h('div', { class: 'label' }, 'Nodes alive')),
      h('div', { class: `card${alive < nodes.length ? ' st-down' : ''}` }, h('div', { class: 'value' }, nodes.length - alive), h('div', { class: 'label' }, 'Nodes gone')),
      h('div', { class: 'card' }, h('div', { class: 'value' }, list.checks_leased ?? 0), h('div', { class: 'label' }, 'Checks leased')),
      h('div', { class: 'card' }, h('div', { class: 'value' }, `${Math.round((list.lease_ms ?? 0) / 1000)} s`), h('div', { class: 'label' }, 'Lease period')));
    const table = h('table', { id: 'node-table' },
      h('caption', { class: 'visually-hidden' }, 'Nodes sharing the store'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Node'), h('th', { scope: 'col' }, 'Health'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Region'),
        h('th', { scope: 'col', class: 'num' }, 'Checks'), h('th', { scope: 'col' }, 'Heartbeat'),
        h('th', { scope: 'col', class: 'hide-narrow' }, 'Host'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Version'))),
      h('tbody', null, nodes.map((n) => h('tr', { dataset: { node: n.id } },
        h('td', { class: 'mono break' }, n.id, n.this ? h('span', { class: 'muted' }, ' (this node)') : null),
        h('td', null, n.alive ? h('span', { class: 'badge st-up' }, '✓ alive') : h('span', { class: 'badge st-down' }, '✕ gone')),
        h('td', { class: 'hide-narrow' }, n.region ?? h('span', { class: 'muted' }, 'any')),
        h('td', { class: 'num' }, n.checks),
        h('td', null, ago(n.heartbeat_at)),
        h('td', { class: 'hide-narrow mono' }, n.host),
        h('td', { class: 'hide-narrow mono' }, n.version)))));
    body.replaceChildren(cards, h('section', { class: 'panel section table-wrap', 'aria-labelledby': 'h-nodes' }, h('h2', { id: 'h-nodes' }, 'Nodes'), table));
  };
  load();
  const timer = setInterval(() => { if (!stopped) load(); }, 2000);
  return () => { stopped = true; clearInterval(timer); };
}
