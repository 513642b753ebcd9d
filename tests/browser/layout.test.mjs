// Tests of the graph layout (crates/iza-server/web/js/layout.js), a pure function, with
// node:test. Run by crates/iza/tests/dashboard.rs (`node --test layout.test.mjs`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layout } from '../../crates/iza-server/web/js/layout.js';

const dep = (from, to) => ({ from, to, kind: 'depends' });
const con = (from, to) => ({ from, to, kind: 'connects' });
const nodes = (ids, group = null) => ids.map((id) => ({ id, group }));

const CASES = [
  { name: 'empty', nodes: [], edges: [], groups: [] },
  { name: 'one service', nodes: nodes(['a']), edges: [], groups: [] },
  { name: 'chain', nodes: nodes(['web', 'api', 'db']), edges: [dep('web', 'api'), dep('api', 'db')], groups: [] },
  { name: 'diamond', nodes: nodes(['a', 'b', 'c', 'd']), edges: [dep('a', 'b'), dep('a', 'c'), dep('b', 'd'), dep('c', 'd')], groups: [] },
  { name: 'cycle', nodes: nodes(['a', 'b', 'c']), edges: [dep('a', 'b'), dep('b', 'c'), dep('c', 'a')], groups: [], cyclic: true },
  { name: 'connects only', nodes: nodes(['a', 'b', 'c']), edges: [con('a', 'b'), con('b', 'c'), con('c', 'a')], groups: [] },
  {
    name: 'groups',
    nodes: [...nodes(['db', 'cache'], 'data'), ...nodes(['api', 'web'], 'edge'), ...nodes(['lone'])],
    edges: [dep('api', 'db'), dep('api', 'cache'), dep('web', 'api'), con('web', 'cache'), dep('lone', 'db')],
    groups: ['data', 'edge'],
  },
  {
    name: 'unknown ends, self-loops and duplicates are ignored',
    nodes: nodes(['a', 'b']),
    edges: [dep('a', 'b'), dep('a', 'b'), dep('a', 'a'), dep('a', 'ghost'), { from: 'b', to: 'core', kind: 'flow' }],
    groups: [],
  },
];

for (const c of CASES) {
  test(c.name, () => {
    const out = layout(c.nodes, c.edges, c.groups);
    assert.equal(out.pos.size, c.nodes.length);
    // No two services at one place.
    const places = new Set([...out.pos.values()].map((p) => `${p.x},${p.y}`));
    assert.equal(places.size, c.nodes.length);
    // A dependency sits left of what depends on it (unless a cycle had to be broken).
    if (!c.cyclic) {
      for (const e of c.edges.filter((e) => e.kind === 'depends' && e.from !== e.to && out.pos.has(e.to))) {
        assert.ok(out.pos.get(e.to).x < out.pos.get(e.from).x, `${e.to} left of ${e.from}`);
      }
    }
    // Every node lies inside its group's band, and the bands do not overlap.
    for (const n of c.nodes) {
      const band = out.bands.find((b) => b.group === n.group);
      assert.ok(band, `a band for ${n.group}`);
      const y = out.pos.get(n.id).y;
      assert.ok(band.y0 + 30 <= y && y < band.y1, `${n.id} inside the band of ${n.group}, below its title`);
    }
    const sorted = [...out.bands].sort((a, b) => a.y0 - b.y0);
    for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i - 1].y1 <= sorted[i].y0, 'bands apart');
    // Manifest order of groups, services without a group last.
    assert.deepEqual(out.bands.map((b) => b.group), [...c.groups.filter((g) => c.nodes.some((n) => n.group === g)),
      ...(c.nodes.some((n) => n.group == null) ? [null] : [])]);
    // Inside the drawing, and the same every time.
    for (const p of out.pos.values()) assert.ok(p.x > 0 && p.x < out.width && p.y > 0 && p.y < out.height);
    assert.deepEqual([...layout(c.nodes, c.edges, c.groups).pos], [...out.pos]);
  });
}

test('a cycle still gets distinct layers', () => {
  const out = layout(nodes(['a', 'b', 'c']), [dep('a', 'b'), dep('b', 'c'), dep('c', 'a')], []);
  assert.equal(new Set([...out.pos.values()].map((p) => p.layer)).size, 3);
});

test('barycentre ordering uncrosses two parallel chains', () => {
  // a1 → a0 and b1 → b0, listed so that the first layer starts crossed.
  const out = layout(nodes(['b0', 'a0', 'a1', 'b1']), [dep('a1', 'a0'), dep('b1', 'b0')], []);
  const above = (u, v) => out.pos.get(u).y < out.pos.get(v).y;
  assert.equal(above('a0', 'b0'), above('a1', 'b1'));
});

test('500 services and 1,500 edges make a compact layout', () => {
  let seed = 1;
  const random = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  const many = Array.from({ length: 500 }, (_, i) => ({ id: `s${i}`, group: `g${Math.floor(i / 25)}` }));
  const edges = [];
  for (let i = 0; i < 1000; i++) { const a = 1 + Math.floor(random() * 499); edges.push(dep(`s${a}`, `s${Math.floor(random() * a)}`)); }
  for (let i = 0; i < 500; i++) edges.push(con(`s${Math.floor(random() * 500)}`, `s${Math.floor(random() * 500)}`));
  const out = layout(many, edges, Array.from({ length: 20 }, (_, i) => `g${i}`));
  assert.equal(out.pos.size, 500);
  assert.ok(out.layers < 60, `${out.layers} layers`);
});
