// Tests of how the dashboard's timelines merge live events into the stored list
// (crates/iza-server/web/js/views/events.js: `liveRecord`, `prependLive`), with node:test.
// Run by crates/iza/tests/dashboard.rs (`node --test layout.test.mjs timeline.test.mjs`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveRecord, prependLive } from '../../crates/iza-server/web/js/views/events.js';

const stored = (id, at, kind, service) => ({ id, at, kind, service, payload: {} });
const live = (seq, at, kind, service) => liveRecord({ seq, at, kind, service });

const CASES = [
  {
    name: 'a new event goes first',
    records: [stored(1, 100, 'status-changed', 'db')],
    event: live(7, 200, 'status-changed', 'db'),
    ids: ['live-7', 1],
  },
  {
    name: 'an event the stored list already holds is not shown twice',
    records: [stored(2, 200, 'status-changed', 'db'), stored(1, 100, 'status-changed', 'db')],
    event: live(7, 200, 'status-changed', 'db'),
    ids: [2, 1],
  },
  {
    name: 'same moment, another service: both',
    records: [stored(2, 200, 'status-changed', 'db')],
    event: live(7, 200, 'status-changed', 'api'),
    ids: ['live-7', 2],
  },
  {
    name: 'same moment and service, another kind: both',
    records: [stored(2, 200, 'service-impacted', 'api')],
    event: live(7, 200, 'status-changed', 'api'),
    ids: ['live-7', 2],
  },
  {
    name: 'an event about no service',
    records: [stored(3, 300, 'manifest-reloaded', null)],
    event: live(8, 300, 'manifest-reloaded', undefined),
    ids: [3],
  },
];

for (const c of CASES) {
  test(c.name, () => {
    const merged = prependLive(c.records, c.event);
    assert.deepEqual(merged.map((r) => r.id), c.ids);
  });
}
