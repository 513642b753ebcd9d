// A layered (Sugiyama-style) layout of the ecosystem graph, in bands by group:
//
// 1. the edges that say an order get a direction: a dependency comes before what depends on
//    it (`depends`: `to` → `from`), a data flow's step before the next (`flow`: `from` →
//    `to`), a hub before what it owns. `connects` edges (data paths, often both ways in a
//    real ecosystem) do not make layers (500 services with random `connects` would make a
//    ribbon hundreds of layers long); they pull their ends together in step 5;
// 2. cycles are broken by reversing the back edges of a depth-first search;
// 3. longest-path layering over a topological order, then sources are pulled next to the
//    first layer they feed (so a lone source does not sit far left of its only consumer);
// 4. each group gets a horizontal band as tall as its most crowded layer, in the order of
//    the manifest's groups (services without a group last);
// 5. barycentre sweeps (down, then up, several times) order the nodes of each layer inside
//    their band by the mean position of their neighbours, which untangles edges.
//
// Long edges are not split by dummy nodes (they are drawn as curves), which keeps the
// layout linear in nodes + edges per sweep. Pure: no DOM, so it can be tested and timed alone.

export const LAYER_GAP = 190;
export const ROW_GAP = 40;
export const BAND_GAP = 26;
/** Room at the top of a band for its title. */
export const BAND_HEAD = 18;
export const MARGIN = 40;
const SWEEPS = 6;

/**
 * @param {{id: string, group: string|null}[]} nodes
 * @param {{from: string, to: string, kind: string}[]} edges
 * @param {string[]} groupOrder group ids in manifest order
 * @returns {{pos: Map<string,{x:number,y:number,layer:number}>, bands: {group: string|null, y0: number, y1: number}[], width: number, height: number, layers: number}}
 */
export function layout(nodes, edges, groupOrder = []) {
  const n = nodes.length;
  const index = new Map(nodes.map((node, i) => [node.id, i]));

  // 1. Directed edges of flow, without self-loops, duplicates or unknown ends.
  const seen = new Set();
  const out = Array.from({ length: n }, () => []);
  const loose = [];
  for (const e of edges) {
    let u = index.get(e.from), v = index.get(e.to);
    if (u === undefined || v === undefined || u === v) continue;
    if (e.kind === 'connects') { loose.push([u, v]); continue; }
    if (e.kind === 'depends') [u, v] = [v, u];
    const key = u * n + v;
    if (seen.has(key)) continue;
    seen.add(key);
    out[u].push(v);
  }

  // 2. Break cycles: iterative DFS, an edge to a node on the stack is reversed.
  const state = new Uint8Array(n); // 0 new, 1 on stack, 2 done
  const succ = Array.from({ length: n }, () => []);
  for (let root = 0; root < n; root++) {
    if (state[root]) continue;
    const stack = [[root, 0]];
    state[root] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [u, i] = top;
      if (i < out[u].length) {
        top[1] = i + 1;
        const v = out[u][i];
        if (state[v] === 1) succ[v].push(u); // back edge: reverse it
        else {
          succ[u].push(v);
          if (state[v] === 0) { state[v] = 1; stack.push([v, 0]); }
        }
      } else {
        state[u] = 2;
        stack.pop();
      }
    }
  }
  const pred = Array.from({ length: n }, () => []);
  for (let u = 0; u < n; u++) for (const v of succ[u]) pred[v].push(u);

  // 3. Longest-path layering (Kahn's order), then pull sources right.
  const layer = new Int32Array(n);
  const indegree = new Int32Array(n);
  for (let u = 0; u < n; u++) indegree[u] = pred[u].length;
  const order = [];
  for (let u = 0; u < n; u++) if (indegree[u] === 0) order.push(u);
  for (let head = 0; head < order.length; head++) {
    const u = order[head];
    for (const v of succ[u]) {
      if (layer[u] + 1 > layer[v]) layer[v] = layer[u] + 1;
      if (--indegree[v] === 0) order.push(v);
    }
  }
  for (let k = order.length - 1; k >= 0; k--) {
    const u = order[k];
    if (pred[u].length === 0 && succ[u].length > 0) {
      let min = Infinity;
      for (const v of succ[u]) min = Math.min(min, layer[v]);
      layer[u] = min - 1;
    }
  }
  let layers = 0;
  for (let u = 0; u < n; u++) layers = Math.max(layers, layer[u] + 1);

  // Neighbours for ordering: the layering edges, and `connects` edges between layers.
  const before = pred.map((list) => list.slice());
  const after = succ.map((list) => list.slice());
  for (const [u, v] of loose) {
    if (layer[u] < layer[v]) { after[u].push(v); before[v].push(u); }
    else if (layer[v] < layer[u]) { after[v].push(u); before[u].push(v); }
  }

  // 4. Bands by group.
  const groupIndex = new Map(groupOrder.map((g, i) => [g, i]));
  const gOf = new Int32Array(n);
  let groupCount = groupOrder.length;
  const extra = new Map();
  for (let u = 0; u < n; u++) {
    const g = nodes[u].group;
    if (g != null && groupIndex.has(g)) gOf[u] = groupIndex.get(g);
    else {
      const key = g ?? '\u0000none';
      if (!extra.has(key)) extra.set(key, { group: g ?? null });
      gOf[u] = -1;
    }
  }
  // Unlisted groups (and "no group", last) follow the manifest's groups.
  const extraKeys = [...extra.keys()].sort((a, b) => (a === '\u0000none') - (b === '\u0000none') || a.localeCompare(b));
  const extraIndex = new Map(extraKeys.map((k, i) => [k, groupCount + i]));
  const groupIds = [...groupOrder, ...extraKeys.map((k) => extra.get(k).group)];
  groupCount = groupIds.length;
  for (let u = 0; u < n; u++) {
    if (gOf[u] === -1) gOf[u] = extraIndex.get(nodes[u].group ?? '\u0000none');
  }
  // cells[l][g] = node indices in that layer and band, in order.
  const cells = Array.from({ length: layers }, () => Array.from({ length: groupCount }, () => []));
  for (let u = 0; u < n; u++) cells[layer[u]][gOf[u]].push(u);
  const bandSize = new Int32Array(groupCount);
  for (let l = 0; l < layers; l++) for (let g = 0; g < groupCount; g++) bandSize[g] = Math.max(bandSize[g], cells[l][g].length);
  const bandTop = new Float64Array(groupCount);
  let y = 0;
  for (let g = 0; g < groupCount; g++) { bandTop[g] = y; y += bandSize[g]; }

  // 5. Barycentre sweeps; rank = row of a node (fractional when a cell is centred in its band).
  const rank = new Float64Array(n);
  const place = (l) => {
    for (let g = 0; g < groupCount; g++) {
      const cell = cells[l][g];
      const offset = bandTop[g] + (bandSize[g] - cell.length) / 2;
      for (let i = 0; i < cell.length; i++) rank[cell[i]] = offset + i;
    }
  };
  for (let l = 0; l < layers; l++) place(l);
  const key = new Float64Array(n);
  const sweep = (from, to, step, neighbours) => {
    for (let l = from; step > 0 ? l < to : l > to; l += step) {
      for (let g = 0; g < groupCount; g++) {
        const cell = cells[l][g];
        if (cell.length < 2) continue;
        for (const u of cell) {
          const near = neighbours[u];
          if (near.length === 0) { key[u] = rank[u]; continue; }
          let sum = 0;
          for (const v of near) sum += rank[v];
          key[u] = sum / near.length;
        }
        cell.sort((a, b) => key[a] - key[b] || a - b);
      }
      place(l);
    }
  };
  for (let s = 0; s < SWEEPS; s++) {
    sweep(1, layers, 1, before);
    sweep(layers - 2, -1, -1, after);
  }

  const pos = new Map();
  const bandStart = (g) => MARGIN + g * (BAND_GAP + BAND_HEAD);
  const yOf = (u) => bandStart(gOf[u]) + BAND_HEAD + rank[u] * ROW_GAP;
  for (let u = 0; u < n; u++) {
    pos.set(nodes[u].id, { x: MARGIN + 120 + layer[u] * LAYER_GAP, y: yOf(u), layer: layer[u] });
  }
  const bands = [];
  for (let g = 0; g < groupCount; g++) {
    if (bandSize[g] === 0) continue;
    const y0 = bandStart(g) + bandTop[g] * ROW_GAP - ROW_GAP / 2;
    bands.push({ group: groupIds[g], y0, y1: y0 + BAND_HEAD + bandSize[g] * ROW_GAP + 8 });
  }
  const height = MARGIN * 2 + y * ROW_GAP + groupCount * (BAND_GAP + BAND_HEAD);
  const width = MARGIN * 2 + 120 + Math.max(0, layers - 1) * LAYER_GAP + 160;
  return { pos, bands, width, height, layers };
}
