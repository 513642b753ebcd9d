// Small DOM helpers shared by the views: element building (no innerHTML with data, so no
// injection), status words and glyphs, and formatting of times and durations.

/** Builds an element: `h('a', {href: '#/'}, 'text', child)`. `class`, `dataset` and `on*`
 *  handlers are understood; `null`/`false` children are skipped. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value == null || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
      else if (value === true) el.setAttribute(key, '');
      else el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** An SVG element. */
export function svg(tag, attrs) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  if (attrs) for (const [key, value] of Object.entries(attrs)) if (value != null) el.setAttribute(key, String(value));
  return el;
}

export const STATUSES = ['up', 'degraded', 'down', 'impacted', 'unknown'];

const GLYPHS = { up: '✓', degraded: '!', down: '✕', impacted: '↯', unknown: '?' };
const WORDS = { up: 'Up', degraded: 'Degraded', down: 'Down', impacted: 'Impacted', unknown: 'Unknown' };

export function glyph(status) { return GLYPHS[status] ?? '?'; }
export function word(status) { return WORDS[status] ?? status; }

/** A status badge: glyph and word, coloured; `by` names the root cause of an impact. */
export function badge(status, by) {
  const label = by ? `${word(status)} (by ${by})` : word(status);
  return h('span', { class: `badge st-${status}`, dataset: { status } },
    h('span', { 'aria-hidden': 'true' }, glyph(status)), label);
}

/** `12:03:04` today, else `2026-11-24 12:03`. */
export function time(ms) {
  if (ms == null) return '—';
  const d = new Date(ms);
  const now = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === now.toDateString()) return clock;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock.slice(0, 5)}`;
}

/** A `<time>` element with the full date as its machine-readable value. */
export function timeEl(ms) {
  return h('time', { datetime: ms == null ? null : new Date(ms).toISOString() }, time(ms));
}

/** `3 s`, `4 min`, `2 h`, `5 d` ago. */
export function ago(ms) {
  if (ms == null) return '—';
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function ms(value) {
  if (value == null) return '—';
  if (value < 1) return `${value.toFixed(2)} ms`;
  if (value < 100) return `${value.toFixed(1)} ms`;
  if (value < 1000) return `${Math.round(value)} ms`;
  // Seconds from one on: "4.54 s" fits a card where "4540 ms" broke over two lines.
  return `${(value / 1000).toFixed(value < 10_000 ? 2 : 1)} s`;
}

export function percent(value) {
  if (value == null) return '—';
  return `${(value * 100).toFixed(value === 1 ? 0 : 2)} %`;
}

/** Ports of a service as text: `3000, 8300-8399`. */
export function ports(list) {
  return (list ?? []).map((p) => (Array.isArray(p) ? `${p[0]}-${p[1]}` : String(p))).join(', ');
}

/** The route of a service's page. */
export function serviceHref(id) { return `#/services/${encodeURIComponent(id)}`; }

/** Runs `fn` at most once per animation frame, with the latest arguments. */
export function perFrame(fn) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fn(); });
  };
}

/** A message box for a failed load. */
export function failure(what, error) {
  return h('div', { class: 'panel error-box', role: 'alert' },
    h('strong', null, `Could not load ${what}.`), ' ', rich(String(error?.message ?? error)));
}

/** IZA's messages put names and values in backticks (``the tool `run_task` is over its rate
 *  limit``): the text as nodes, each `span` a `<code>`. Built from text nodes only (never
 *  parsed as HTML), so a message cannot inject markup; a lone backtick stays as it is. */
export function rich(text) {
  if (text == null) return [];
  const parts = String(text).split('`');
  // An odd count of backticks: the last one opens nothing, it is kept as text.
  const closed = parts.length % 2 === 1 ? parts.length : parts.length - 1;
  const nodes = [];
  for (let i = 0; i < parts.length; i += 1) {
    if (i >= closed) nodes.push(`\`${parts[i]}`);
    else if (i % 2 === 1 && parts[i] !== '') nodes.push(h('code', null, parts[i]));
    else if (i % 2 === 1) nodes.push('``');
    else if (parts[i] !== '') nodes.push(parts[i]);
  }
  return nodes;
}

/** Sets `el`'s content to `text` with its backtick spans as `<code>` (see [`rich`]). */
export function setRich(el, text) {
  el.replaceChildren(...rich(text));
}
