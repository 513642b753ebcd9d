// The dashboard's entry: hash routing (`#/`, `#/graph`, `#/services`, `#/services/ID`,
// `#/ports`, `#/hub`, `#/audit`, `#/events`, `#/execution`, `#/alerts`, `#/workflows`, `#/nodes`), the theme toggle, the connection indicator, keyboard
// shortcuts.
// Each view module exports `render(main, params)` and may return a cleanup function.

import { live } from './live.js';
import { api } from './api.js';
import { showSignIn } from './signin.js';
import * as overview from './views/overview.js';
import * as graph from './views/graph.js';
import * as services from './views/services.js';
import * as service from './views/service.js';
import * as ports from './views/ports.js';
import * as hub from './views/hub.js';
import * as audit from './views/audit.js';
import * as events from './views/events.js';
import * as execution from './views/execution.js';
import * as alerts from './views/alerts.js';
import * as nodes from './views/nodes.js';
import * as workflows from './views/workflows.js';

const ROUTES = [
  { pattern: /^\/?$/, nav: 'overview', title: 'Overview', view: overview },
  { pattern: /^\/graph$/, nav: 'graph', title: 'Network graph', view: graph },
  { pattern: /^\/services$/, nav: 'services', title: 'Services', view: services },
  { pattern: /^\/services\/(.+)$/, nav: 'services', title: 'Service', view: service },
  { pattern: /^\/ports$/, nav: 'ports', title: 'Ports', view: ports },
  { pattern: /^\/hub$/, nav: 'hub', title: 'MCP hub', view: hub },
  { pattern: /^\/audit$/, nav: 'audit', title: 'Audit log', view: audit },
  { pattern: /^\/events$/, nav: 'events', title: 'Events', view: events },
  { pattern: /^\/execution$/, nav: 'execution', title: 'Execution', view: execution },
  { pattern: /^\/alerts$/, nav: 'alerts', title: 'Alerts', view: alerts },
  { pattern: /^\/workflows$/, nav: 'workflows', title: 'Workflows', view: workflows },
  { pattern: /^\/nodes$/, nav: 'nodes', title: 'Nodes', view: nodes },
];

const main = document.getElementById('main');
let cleanup = null;
let ecosystem = '';

function route() {
  const hash = location.hash.replace(/^#/, '');
  // In-page anchors (`#main`) are not routes.
  if (hash !== '' && !hash.startsWith('/')) return;
  const [path, query] = hash.split('?');
  const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(path || '/') })).find((x) => x.m);
  if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } cleanup = null; }
  main.replaceChildren();
  main.classList.remove('wide');
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (match && link.dataset.nav === match.r.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (!match) {
    const h1 = document.createElement('h1');
    h1.textContent = 'Not found';
    const p = document.createElement('p');
    p.textContent = `No page at #${path}. `;
    const a = document.createElement('a');
    a.href = '#/';
    a.textContent = 'Back to the overview';
    p.append(a);
    main.append(h1, p);
    document.title = 'Not found · IZA OS';
    return;
  }
  const params = match.m.slice(1).map(decodeURIComponent);
  const title = match.r.view.title?.(params) ?? match.r.title;
  document.title = `${title} · IZA OS${ecosystem ? ` · ${ecosystem}` : ''}`;
  cleanup = match.r.view.render(main, params, new URLSearchParams(query ?? '')) ?? null;
}

function setupTheme() {
  const button = document.getElementById('theme');
  const root = document.documentElement;
  const current = () => root.dataset.theme
    ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
  const label = () => {
    const next = current() === 'dark' ? 'light' : 'dark';
    button.setAttribute('aria-label', `Switch to ${next} theme`);
    button.title = `Switch to ${next} theme (t)`;
  };
  button.addEventListener('click', () => {
    const next = current() === 'dark' ? 'light' : 'dark';
    root.dataset.theme = next;
    try { localStorage.setItem('iza-theme', next); } catch { /* storage disabled */ }
    label();
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', label);
  label();
}

function setupConnection() {
  const box = document.getElementById('conn');
  const text = box.querySelector('.conn-text');
  const words = { connecting: 'Connecting…', live: 'Live', lost: 'Connection lost, retrying…' };
  live.subscribe((change) => {
    if (change.type !== 'connection') return;
    box.dataset.state = change.state;
    text.textContent = words[change.state] ?? change.state;
  });
}

function setupKeys() {
  const pages = ['#/', '#/graph', '#/services', '#/ports', '#/events', '#/execution', '#/alerts', '#/workflows', '#/nodes'];
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement) return;
    if (e.key >= '1' && e.key <= String(pages.length)) {
      location.hash = pages[Number(e.key) - 1];
      e.preventDefault();
    } else if (e.key === 't') {
      document.getElementById('theme').click();
    } else if (e.key === '/') {
      const search = main.querySelector('input[type="search"]');
      if (search) { search.focus(); e.preventDefault(); }
    }
  });
  document.getElementById('skip').addEventListener('click', (e) => {
    e.preventDefault();
    main.focus();
  });
}

async function loadName() {
  try {
    const summary = await api.summary();
    ecosystem = summary.ecosystem ?? '';
    document.getElementById('eco-name').textContent = ecosystem;
  } catch (e) {
    console.warn('summary', e);
  }
}

window.addEventListener('iza:unauthorized', () => {
  if (!document.getElementById('signin-page')) showSignIn(main);
});
setupTheme();
setupConnection();
setupKeys();
live.start();
loadName();
window.addEventListener('hashchange', route);
route();
