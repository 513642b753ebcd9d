// MCP hub: the upstream MCP servers federated behind IZA's `/mcp` (`/api/v1/hub`): each one's
// state, protocol revision, transport, tools (namespaced `server__tool`) and call figures.
// Refreshed every 5 s while shown.

import { api } from '../api.js';
import { h, serviceHref, failure, timeEl, rich } from '../dom.js';

export const title = () => 'MCP hub';

const STATE_CLASS = { up: 'st-up', down: 'st-down', connecting: 'st-unknown' };

export function render(main) {
  main.append(h('h1', null, 'MCP hub'));
  const body = h('div', { id: 'hub-body' });
  main.append(body);
  let stopped = false;
  const draw = async () => {
    let hub;
    try {
      hub = await api.hub();
    } catch (e) {
      body.replaceChildren(failure('the MCP hub', e));
      return;
    }
    const ups = hub.upstreams ?? [];
    const cards = h('div', { class: 'grid cards' },
      h('div', { class: 'card' }, h('div', { class: 'value' }, hub.count ?? 0), h('div', { class: 'label' }, 'Upstream MCP servers')),
      h('div', { class: `card${(hub.up ?? 0) < (hub.count ?? 0) ? ' st-down' : ''}` },
        h('div', { class: 'value' }, `${hub.up ?? 0}/${hub.count ?? 0}`), h('div', { class: 'label' }, 'Up')),
      h('div', { class: 'card' }, h('div', { class: 'value' }, hub.tools ?? 0), h('div', { class: 'label' }, 'Federated tools')));
    if (!ups.length) {
      body.replaceChildren(cards, h('p', { class: 'muted' },
        rich('No service of the manifest has an `mcp` table: the hub federates nothing (see docs/mcp.md).')));
      return;
    }
    const table = h('table', { id: 'hub-table' },
      h('caption', { class: 'visually-hidden' }, 'Upstream MCP servers'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Server'), h('th', { scope: 'col' }, 'State'),
        h('th', { scope: 'col', class: 'hide-narrow' }, 'Protocol'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Transport'),
        h('th', { scope: 'col', class: 'num' }, 'Tools'), h('th', { scope: 'col', class: 'num' }, 'Calls'),
        h('th', { scope: 'col', class: 'num' }, 'Errors'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Since'))),
      h('tbody', null, ups.map((u) => h('tr', { dataset: { upstream: u.name, state: u.state } },
        h('td', null, h('a', { href: serviceHref(u.name) }, u.name), u.server ? h('span', { class: 'muted hide-narrow' }, ` ${u.server}`) : null),
        h('td', null, h('span', { class: `badge ${STATE_CLASS[u.state] ?? ''}` }, u.state),
          u.reason ? h('div', { class: 'muted small' }, rich(u.reason)) : null),
        h('td', { class: 'hide-narrow mono nowrap' }, u.protocol ?? '—'),
        h('td', { class: 'hide-narrow mono' }, `${u.transport} ${u.target}`),
        h('td', { class: 'num', title: (u.tools ?? []).join('\n') }, u.tool_count ?? 0),
        h('td', { class: 'num' }, u.calls ?? 0),
        h('td', { class: 'num' }, u.errors ?? 0),
        h('td', { class: 'hide-narrow' }, u.since_ms ? timeEl(u.since_ms) : '—')))));
    const names = ups.flatMap((u) => u.tools ?? []);
    const tools = names.length
      ? h('ul', { id: 'hub-tools', class: 'mono' }, names.map((t) => h('li', null, t)))
      : h('p', { class: 'muted' }, 'No upstream lists a tool yet.');
    body.replaceChildren(cards,
      h('section', { class: 'panel section table-wrap', 'aria-labelledby': 'h-upstreams' }, h('h2', { id: 'h-upstreams' }, 'Upstreams'), table),
      h('section', { class: 'panel section', 'aria-labelledby': 'h-tools' }, h('h2', { id: 'h-tools' }, 'Federated tools'), tools));
  };
  draw();
  const timer = setInterval(() => { if (!stopped) draw(); }, 5000);
  return () => { stopped = true; clearInterval(timer); };
}
