// The network graph, drawn in SVG by this module: one node per service (a circle with a
// status glyph and its name), dependency edges solid with an arrow, data-flow edges dashed,
// group bands behind. Pan (drag the background, arrow keys), zoom (wheel, pinch, + and -),
// fit (0), drag a node, focus nodes with Tab (Enter selects). Positions come from layout.js.
// Labels are hidden when zoomed far out, which keeps 500 nodes smooth.

import { layout } from './layout.js';
import { svg, glyph, word, STATUSES } from './dom.js';

const R = 9;
const LABEL_MIN_SCALE = 0.45;

export class GraphView {
  /** @param {HTMLElement} box  @param {{onSelect(id: string|null): void}} hooks */
  constructor(box, hooks) {
    this.box = box;
    this.hooks = hooks;
    this.root = svg('svg', { class: 'graph', role: 'group', 'aria-label': 'Network graph of services', tabindex: '0' });
    this.root.append(defs());
    this.scene = svg('g', { class: 'scene' });
    this.bandLayer = svg('g', { class: 'group-bands', 'aria-hidden': 'true' });
    this.edgeLayer = svg('g', { class: 'graph-edges', 'aria-hidden': 'true' });
    this.nodeLayer = svg('g', { class: 'graph-nodes' });
    this.scene.append(this.bandLayer, this.edgeLayer, this.nodeLayer);
    this.root.append(this.scene);
    box.append(this.root);
    this.view = { x: 0, y: 0, k: 1 };
    this.nodes = new Map(); // id → {el, x, y, data, edges: []}
    this.edges = []; // {el, from, to, kind}
    this.selected = null;
    this.bindPointer();
    this.bindKeys();
  }

  /** Lays out and draws `graph` (`/api/v1/graph`), statuses from `statusOf(id)`. */
  setData(graph, statusOf) {
    if (this.selected) this.select(null);
    const services = new Set(graph.nodes.map((n) => n.id));
    const edges = graph.edges.filter((e) => services.has(e.from) && services.has(e.to) && e.from !== e.to);
    const groupNames = new Map((graph.groups ?? []).map((g) => [g.id, g.name]));
    const placed = layout(graph.nodes, edges, (graph.groups ?? []).map((g) => g.id));
    performance.mark('graph-laid-out');
    this.size = { width: placed.width, height: placed.height };

    const bands = placed.bands.map((b) => {
      const g = svg('g', { class: 'group-band' });
      g.append(svg('rect', { x: 8, y: b.y0, width: placed.width - 16, height: b.y1 - b.y0, rx: 8 }));
      const label = svg('text', { x: 18, y: b.y0 + 16 });
      label.textContent = b.group == null ? 'No group' : groupNames.get(b.group) ?? b.group;
      g.append(label);
      return g;
    });
    this.bandLayer.replaceChildren(...bands);

    this.nodes = new Map();
    const order = [...graph.nodes].sort((a, b) => {
      const pa = placed.pos.get(a.id), pb = placed.pos.get(b.id);
      return pa.y - pb.y || pa.x - pb.x;
    });
    const nodeEls = order.map((data) => {
      const p = placed.pos.get(data.id);
      const el = svg('g', { class: 'node', tabindex: '0', role: 'button', 'data-id': data.id });
      el.append(svg('circle', { class: 'ring', r: R + 5 }), svg('circle', { class: 'body', r: R }));
      const g = svg('text', { class: 'glyph' });
      const label = svg('text', { class: 'label', y: R + 12 });
      const text = data.name && data.name !== data.id ? data.name : data.id;
      label.textContent = text.length > 26 ? `${text.slice(0, 25)}…` : text;
      const tip = svg('title');
      el.append(g, label, tip);
      const node = { el, glyph: g, tip, x: p.x, y: p.y, data, edges: [], status: 'unknown', by: null };
      this.nodes.set(data.id, node);
      this.place(node);
      this.paint(node, statusOf(data.id));
      return el;
    });
    this.nodeLayer.replaceChildren(...nodeEls);

    this.edges = edges.map((e) => {
      const kind = e.kind === 'depends' ? 'depends' : e.kind;
      const flow = kind === 'connects' || kind === 'flow';
      const el = svg('path', {
        class: `e-${kind}`,
        'marker-end': kind === 'owns' ? null : `url(#arrow-${flow ? 'flow' : 'depends'})`,
        'data-from': e.from, 'data-to': e.to,
      });
      const edge = { el, from: this.nodes.get(e.from), to: this.nodes.get(e.to), kind, via: e.via };
      edge.from.edges.push(edge);
      edge.to.edges.push(edge);
      this.route(edge);
      return edge;
    });
    this.edgeLayer.replaceChildren(...this.edges.map((e) => e.el));
    this.root.dataset.nodes = String(this.nodes.size);
    this.root.dataset.edges = String(this.edges.length);
    this.fit();
  }

  /** Shows a service's live state (`{status, by}`). */
  paint(node, state) {
    const status = state?.status ?? 'unknown';
    const by = state?.by ?? null;
    node.status = status;
    node.by = by;
    for (const s of STATUSES) node.el.classList.toggle(`st-${s}`, s === status);
    node.el.classList.toggle('root', status === 'down');
    node.el.classList.toggle('selected', this.selected === node);
    node.el.dataset.status = status;
    node.glyph.textContent = glyph(status);
    const name = node.data.name && node.data.name !== node.data.id ? `${node.data.name} (${node.data.id})` : node.data.id;
    const what = status === 'down' ? 'down, root cause' : status === 'impacted' ? `impacted by ${by}` : word(status).toLowerCase();
    node.el.setAttribute('aria-label', `${name}: ${what}`);
    node.tip.textContent = `${name}: ${what}`;
  }

  update(id, state) {
    const node = this.nodes.get(id);
    if (node) this.paint(node, state);
  }

  place(node) {
    node.el.setAttribute('transform', `translate(${node.x},${node.y})`);
  }

  /** A curve from one node to the other, leaving and entering sideways. */
  route(edge) {
    const a = edge.from, b = edge.to;
    // A dependency edge points at what is needed (leftwards in the layout).
    const dx = b.x - a.x, dy = b.y - a.y;
    const len = Math.hypot(dx, dy) || 1;
    const x1 = a.x + (dx / len) * R, y1 = a.y + (dy / len) * R;
    const x2 = b.x - (dx / len) * (R + 3), y2 = b.y - (dy / len) * (R + 3);
    const bend = Math.min(80, Math.abs(x2 - x1) / 2);
    const sx = x2 >= x1 ? 1 : -1;
    // Data-flow edges bow sideways, so one beside a dependency between the same two
    // services stays visible.
    const off = edge.kind === 'depends' ? 0 : 14;
    const ox = (-dy / len) * off, oy = (dx / len) * off;
    edge.el.setAttribute('d', (Math.abs(dy) < 1 || Math.abs(dx) < 1) && off === 0
      ? `M${x1},${y1}L${x2},${y2}`
      : `M${x1},${y1}C${x1 + sx * bend + ox},${y1 + oy} ${x2 - sx * bend + ox},${y2 + oy} ${x2},${y2}`);
  }

  applyView() {
    const { x, y, k } = this.view;
    this.scene.setAttribute('transform', `translate(${x},${y}) scale(${k})`);
    this.root.classList.toggle('far', k < LABEL_MIN_SCALE);
  }

  /** Fits the whole graph in the box. */
  fit() {
    const rect = this.box.getBoundingClientRect();
    const w = rect.width || 800, h = rect.height || 600;
    const k = Math.min(w / this.size.width, h / this.size.height, 1.5);
    this.view = { k, x: (w - this.size.width * k) / 2, y: (h - this.size.height * k) / 2 };
    this.applyView();
  }

  zoomBy(factor, cx, cy) {
    const rect = this.box.getBoundingClientRect();
    const px = cx ?? rect.width / 2, py = cy ?? rect.height / 2;
    const k = Math.min(4, Math.max(0.05, this.view.k * factor));
    const f = k / this.view.k;
    this.view = { k, x: px - (px - this.view.x) * f, y: py - (py - this.view.y) * f };
    this.applyView();
  }

  panBy(dx, dy) {
    this.view.x += dx;
    this.view.y += dy;
    this.applyView();
  }

  /** Centres a node, zooming in to a readable scale if needed. */
  center(id) {
    const node = this.nodes.get(id);
    if (!node) return;
    const rect = this.box.getBoundingClientRect();
    const k = Math.max(this.view.k, 1);
    this.view = { k, x: rect.width / 2 - node.x * k, y: rect.height / 2 - node.y * k };
    this.applyView();
  }

  /** Keeps a node on screen (for keyboard focus). */
  reveal(node) {
    const rect = this.box.getBoundingClientRect();
    const sx = node.x * this.view.k + this.view.x, sy = node.y * this.view.k + this.view.y;
    if (sx < 20 || sy < 20 || sx > rect.width - 20 || sy > rect.height - 20) this.center(node.data.id);
  }

  select(id) {
    const previous = this.selected;
    this.selected = id ? this.nodes.get(id) ?? null : null;
    if (previous) this.paint(previous, { status: previous.status, by: previous.by });
    for (const e of this.edges) e.el.classList.remove('hot');
    for (const n of this.nodes.values()) n.el.classList.remove('hot');
    this.root.classList.toggle('dim', Boolean(this.selected));
    if (this.selected) {
      const node = this.selected;
      this.paint(node, { status: node.status, by: node.by });
      for (const e of node.edges) {
        e.el.classList.add('hot');
        e.from.el.classList.add('hot');
        e.to.el.classList.add('hot');
      }
    }
    this.hooks.onSelect(this.selected ? this.selected.data.id : null);
  }

  /** Marks the nodes whose id or name contains `text`; returns their ids, best first. */
  search(text) {
    const q = text.trim().toLowerCase();
    const found = [];
    for (const node of this.nodes.values()) {
      const id = node.data.id.toLowerCase(), name = (node.data.name ?? '').toLowerCase();
      node.match = q !== '' && (id.includes(q) || name.includes(q));
      if (node.match) found.push([id === q || name === q ? 0 : id.startsWith(q) || name.startsWith(q) ? 1 : 2, node.data.id]);
      node.el.classList.toggle('match', node.match);
    }
    found.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]));
    return found.map(([, id]) => id);
  }

  bindPointer() {
    const pointers = new Map();
    let drag = null; // {node?, startX, startY, moved, lastX, lastY}
    let pinch = null;
    const local = (e) => {
      const rect = this.root.getBoundingClientRect();
      return [e.clientX - rect.left, e.clientY - rect.top];
    };
    this.root.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      pointers.set(e.pointerId, local(e));
      this.root.setPointerCapture(e.pointerId);
      if (pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        pinch = { dist: Math.hypot(a[0] - b[0], a[1] - b[1]) };
        drag = null;
        return;
      }
      const nodeEl = e.target.closest?.('.node');
      const [x, y] = local(e);
      drag = { node: nodeEl ? this.nodes.get(nodeEl.dataset.id) : null, startX: x, startY: y, lastX: x, lastY: y, moved: false };
    });
    this.root.addEventListener('pointermove', (e) => {
      if (!pointers.has(e.pointerId)) return;
      pointers.set(e.pointerId, local(e));
      if (pinch && pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        const dist = Math.hypot(a[0] - b[0], a[1] - b[1]);
        this.zoomBy(dist / pinch.dist, (a[0] + b[0]) / 2, (a[1] + b[1]) / 2);
        pinch.dist = dist;
        return;
      }
      if (!drag) return;
      const [x, y] = local(e);
      if (!drag.moved && Math.hypot(x - drag.startX, y - drag.startY) < 4) return;
      drag.moved = true;
      const dx = x - drag.lastX, dy = y - drag.lastY;
      drag.lastX = x;
      drag.lastY = y;
      if (drag.node) {
        drag.node.x += dx / this.view.k;
        drag.node.y += dy / this.view.k;
        this.place(drag.node);
        for (const edge of drag.node.edges) this.route(edge);
      } else {
        this.root.classList.add('panning');
        this.panBy(dx, dy);
      }
    });
    const end = (e) => {
      if (!pointers.has(e.pointerId)) return;
      pointers.delete(e.pointerId);
      if (pointers.size < 2) pinch = null;
      this.root.classList.remove('panning');
      if (drag && !drag.moved && e.type === 'pointerup') {
        this.select(drag.node ? drag.node.data.id : null);
        if (drag.node) drag.node.el.focus({ preventScroll: true });
      }
      drag = null;
    };
    this.root.addEventListener('pointerup', end);
    this.root.addEventListener('pointercancel', end);
    this.root.addEventListener('wheel', (e) => {
      e.preventDefault();
      const [x, y] = local(e);
      this.zoomBy(Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015)), x, y);
    }, { passive: false });
  }

  bindKeys() {
    this.root.addEventListener('keydown', (e) => {
      const nodeEl = e.target.closest?.('.node');
      const step = e.shiftKey ? 200 : 60;
      const keys = {
        ArrowLeft: () => this.panBy(step, 0), ArrowRight: () => this.panBy(-step, 0),
        ArrowUp: () => this.panBy(0, step), ArrowDown: () => this.panBy(0, -step),
        '+': () => this.zoomBy(1.25), '=': () => this.zoomBy(1.25), '-': () => this.zoomBy(0.8),
        0: () => this.fit(),
        Escape: () => this.select(null),
      };
      if ((e.key === 'Enter' || e.key === ' ') && nodeEl) {
        this.select(nodeEl.dataset.id);
        e.preventDefault();
      } else if (keys[e.key]) {
        keys[e.key]();
        e.preventDefault();
      }
    });
    this.root.addEventListener('focusin', (e) => {
      const nodeEl = e.target.closest?.('.node');
      if (nodeEl) this.reveal(this.nodes.get(nodeEl.dataset.id));
    });
  }
}

function defs() {
  const d = svg('defs');
  for (const id of ['depends', 'flow']) {
    const marker = svg('marker', {
      id: `arrow-${id}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerUnits: 'userSpaceOnUse',
      markerWidth: 9, markerHeight: 9, orient: 'auto-start-reverse',
    });
    marker.append(svg('path', { d: 'M0,0L10,5L0,10z' }));
    d.append(marker);
  }
  return d;
}
