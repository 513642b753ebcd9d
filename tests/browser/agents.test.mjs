// Tests of the agents' work in words (crates/iza-server/web/js/agents.js), pure functions,
// with node:test: durations, output tails, triggers, escalation chains, the agent tree, the
// parts of the Execution page an event changes, and the debouncing of those reloads.
// Run by crates/iza/tests/dashboard.rs (`node --test … agents.test.mjs`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  duration, runDuration, elapsed, until, tail, lastLine, scheduleText, onText, triggerText,
  runTriggerText, chainSteps, chainText, agentTree, eventRun, eventIncident, affectedParts,
  debouncer, runWord, runGlyph, runColour, rate,
} from '../../crates/iza-server/web/js/agents.js';

test('durations read like a person would say them', () => {
  const cases = [
    [null, '—'], [undefined, '—'], [NaN, '—'], [-5, '0 ms'], [0, '0 ms'], [850.4, '850 ms'],
    [999, '999 ms'], [1000, '1.0 s'], [4290, '4.2 s'], [9999, '9.9 s'], [10_000, '10 s'],
    [59_999, '59 s'], [60_000, '1 min 00 s'], [184_000, '3 min 04 s'], [3_600_000, '1 h 00 min'],
    [7_500_000, '2 h 05 min'], [86_400_000 * 3 + 3_600_000 * 4, '3 d 4 h'],
  ];
  for (const [ms, text] of cases) assert.equal(duration(ms), text, `duration(${ms})`);
});

test('a run lasts from its start to its end, and not before both are known', () => {
  assert.equal(runDuration({ started_at: 1000, finished_at: 1450 }), 450);
  assert.equal(runDuration({ started_at: 1000, finished_at: null }), null);
  assert.equal(runDuration({ started_at: null, finished_at: 1450 }), null);
  assert.equal(runDuration(null), null);
});

test('success rates to a tenth of a percent', () => {
  assert.equal(rate(null), '—');
  assert.equal(rate(1), '100 %');
  assert.equal(rate(0), '0 %');
  assert.equal(rate(1 / 3), '33.3 %');
  assert.equal(rate(0.9996), '100 %');
});

test('a running run ticks from what the server measured, not from a skewed clock', () => {
  // The server said 1.5 s at local time 10,000; two seconds later it has run 3.5 s, whatever
  // the local clock says of `started_at`.
  assert.equal(elapsed({ elapsed_ms: 1500, started_at: 999_999_999 }, 10_000, 12_000), 3500);
  assert.equal(elapsed({ started_at: 10_000 }, null, 12_500), 2500);
  assert.equal(elapsed({}, 10_000, 12_000), null);
});

test('a time to come', () => {
  assert.equal(until(null, 0), '—');
  assert.equal(until(1000, 2000), 'now');
  assert.equal(until(10_400, 10_000), 'now');
  assert.equal(until(13_000, 10_000), 'in 3 s');
  assert.equal(until(10_000 + 240_000, 10_000), 'in 4 min');
  assert.equal(until(10_000 + 7_200_000, 10_000), 'in 2 h');
});

test('an output keeps its end, cut at a line when one is near', () => {
  assert.equal(tail(null), '');
  assert.equal(tail('short\n\n'), 'short');
  const long = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n');
  const t = tail(long, 50);
  assert.ok(t.startsWith('…line '), t);
  assert.ok(t.endsWith('line 99'), t);
  assert.ok(t.length <= 51);
  // One long line: cut anywhere, still the end.
  const one = 'x'.repeat(500) + 'END';
  assert.equal(tail(one, 10), `…${'x'.repeat(7)}END`);
  assert.equal(lastLine('first\nsecond\n\n  \n'), 'second');
  assert.equal(lastLine(''), '');
  assert.equal(lastLine('y'.repeat(200), 10), `${'y'.repeat(9)}…`);
});

test('schedules and event triggers in words, in the catalog\'s and the manifest\'s forms', () => {
  assert.equal(scheduleText(null), null);
  assert.equal(scheduleText({ every: '1s' }), 'every 1s');
  assert.equal(scheduleText({ cron: '0 3 * * *' }), 'cron 0 3 * * *');
  assert.equal(scheduleText({ cron: { expression: '0 3 * * *', timezone: 'Europe/Paris' } }), 'cron 0 3 * * * (Europe/Paris)');
  assert.equal(scheduleText({ cron: { expression: '0 3 * * *', timezone: null } }), 'cron 0 3 * * *');
  assert.equal(onText(null), null);
  assert.equal(onText({ kind: { status: ['down'] }, services: ['n8n'], groups: [] }), 'on status down of n8n');
  assert.equal(onText({ kind: { status: ['down', 'degraded'] }, services: [], groups: ['infrastructure'] }),
    'on status down or degraded in group infrastructure');
  assert.equal(onText({ kind: { process: ['failed'] }, services: ['a', 'b'], groups: [] }), 'on process failed of a, b');
  assert.equal(onText({ kind: 'escalation', services: [], groups: [] }), 'on an escalation');
  assert.equal(onText({ escalation: true }), 'on an escalation');
  assert.equal(onText({ status: 'down', services: ['n8n'] }), 'on status down of n8n');
});

test('when a task runs', () => {
  assert.equal(triggerText({ kind: 'runnable', schedule: { every: '5m' }, on: null }), 'every 5m');
  assert.equal(triggerText({ kind: 'runnable', schedule: null, on: null }), 'on demand');
  assert.equal(triggerText({ kind: 'runnable', schedule: { every: '1h' }, on: { kind: 'escalation' } }), 'every 1h; on an escalation');
  assert.equal(triggerText({ kind: 'documented', schedule: { every: '1h' } }), 'not run (documented)');
  assert.equal(triggerText({ kind: 'external', schedule: null, on: null }), 'on demand, by an external agent');
  assert.equal(runTriggerText({ kind: 'manual' }), 'manual');
  assert.equal(runTriggerText({ kind: 'tick', at: 5 }), 'schedule');
  assert.equal(runTriggerText({ kind: 'event', service: 'db', status: 'down' }), 'event: db down');
  assert.equal(runTriggerText({ kind: 'escalation', incident: 4 }), 'escalation of #4');
  assert.equal(runTriggerText(null), '—');
});

test('run states have a glyph, a word and a colour', () => {
  for (const s of ['queued', 'running', 'succeeded', 'failed', 'cancelled']) {
    assert.notEqual(runGlyph(s), '?');
    assert.match(runWord(s), /^[A-Z]/);
  }
  assert.equal(runColour('failed'), 'down');
  assert.equal(runColour('succeeded'), 'up');
  assert.equal(runWord('weird'), 'weird');
});

test('an escalation chain starts at the owner and names each outcome', () => {
  const incident = {
    id: 4, task: 'checker/ping', agent: 'checker', run: 17,
    chain: [
      { agent: 'manager', at: 1, outcome: 'no-handler', run: null },
      { agent: 'master', at: 2, outcome: 'pending', run: 21 },
    ],
  };
  assert.deepEqual(chainSteps(incident).map((s) => [s.agent, s.owner, s.outcome]),
    [['checker', true, null], ['manager', false, 'no-handler'], ['master', false, 'pending']]);
  assert.equal(chainText(incident), 'checker → manager (no handler) → master (pending)');
  assert.equal(chainText({ agent: 'checker', chain: [] }), 'checker');
  assert.equal(chainText({ agent: null, chain: [{ agent: 'm', outcome: 'handled' }] }), 'm (handled)');
  assert.equal(chainText({}), '—');
});

const agent = (id, tier, reports_to = null, name = id) => ({ id, tier, reports_to, name });
const shape = (nodes) => nodes.map((n) => (n.children.length ? [n.agent.id, shape(n.children)] : n.agent.id));
const ids = (nodes) => nodes.flatMap((n) => [n.agent.id, ...ids(n.children)]);

const TREES = [
  { name: 'no agents', agents: [], shape: [] },
  { name: 'one', agents: [agent('a', 1)], shape: ['a'] },
  {
    name: 'three tiers, siblings by tier then name',
    agents: [agent('w2', 3, 'm2'), agent('m2', 2, 'top', 'Beta'), agent('top', 1), agent('m1', 2, 'top', 'Alpha'), agent('w1', 3, 'm1'), agent('lone', 3, 'top')],
    shape: [['top', [['m1', ['w1']], ['m2', ['w2']], 'lone']]],
  },
  { name: 'two roots', agents: [agent('b', 1), agent('a', 1), agent('c', 2, 'a')], shape: [['a', ['c']], 'b'] },
  { name: 'reports to a missing agent: a root', agents: [agent('a', 2, 'ghost'), agent('b', 1)], shape: ['b', 'a'] },
  { name: 'reports to itself: a root', agents: [agent('a', 1, 'a')], shape: ['a'] },
  { name: 'a cycle does not hang and keeps everyone', agents: [agent('a', 2, 'b'), agent('b', 2, 'a'), agent('c', 1)], shape: ['c', ['a', ['b']]] },
];

for (const c of TREES) {
  test(`agent tree: ${c.name}`, () => {
    const tree = agentTree(c.agents);
    assert.deepEqual(shape(tree), c.shape);
    // Everyone exactly once, and depths follow nesting.
    assert.deepEqual(ids(tree).sort(), c.agents.map((a) => a.id).sort());
    const depths = (nodes, d) => nodes.every((n) => n.depth === d && depths(n.children, d + 1));
    assert.ok(depths(tree, 0));
  });
}

test('events name their run and incident, whole or by id', () => {
  assert.deepEqual(eventRun({ kind: 'run-started', run: 42, task: 'ops/backup' }), { id: 42, task: 'ops/backup', agent: 'ops' });
  assert.deepEqual(eventRun({ kind: 'run-failed', run: { id: 7, task: 'x/y', agent: 'x' } }), { id: 7, task: 'x/y', agent: 'x' });
  assert.deepEqual(eventRun({ kind: 'run-queued', run: 3, task: 'lonely', agent: null }), { id: 3, task: 'lonely', agent: null });
  assert.deepEqual(eventRun({}), { id: null, task: null, agent: null });
  assert.equal(eventIncident({ incident: 5 }), 5);
  assert.equal(eventIncident({ incident: { id: 6 } }), 6);
  assert.equal(eventIncident({}), null);
});

test('an event reloads only the parts it changes', () => {
  assert.deepEqual(affectedParts('run-succeeded'), ['queue', 'runs', 'tasks']);
  assert.deepEqual(affectedParts('incident-escalated'), ['incidents', 'agents']);
  assert.deepEqual(affectedParts('probe-completed'), []);
  assert.deepEqual(affectedParts('status-changed'), []);
  assert.equal(affectedParts('manifest-reloaded').length, 5);
});

/** Timers driven by hand: `advance(ms)` runs what is due. */
function fakeTimers() {
  let now = 0;
  let next = 1;
  const pending = new Map();
  return {
    now: () => now,
    setTimeout(fn, ms) { const id = next++; pending.set(id, { at: now + ms, fn }); return id; },
    clearTimeout(id) { pending.delete(id); },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...pending.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        pending.delete(due[0]);
        now = due[1].at;
        due[1].fn();
      }
      now = end;
    },
  };
}

test('a burst of events is one reload of the union of their parts', () => {
  const timers = fakeTimers();
  const calls = [];
  const d = debouncer((parts) => calls.push([timers.now(), [...parts].sort()]), 300, 1500, timers);
  d.add(['queue', 'runs'], timers.now());
  timers.advance(100);
  d.add(['incidents'], timers.now());
  timers.advance(100);
  // An event that changes nothing does not delay the reload.
  d.add([], timers.now());
  assert.equal(calls.length, 0);
  timers.advance(199);
  assert.equal(calls.length, 0, 'not before the events calm down');
  timers.advance(1);
  assert.deepEqual(calls, [[400, ['incidents', 'queue', 'runs']]]);
  timers.advance(5000);
  assert.equal(calls.length, 1, 'nothing more without events');
});

test('a steady stream of events still reloads, at the latest after the longest wait', () => {
  const timers = fakeTimers();
  const calls = [];
  const d = debouncer((parts) => calls.push(timers.now()), 300, 1500, timers);
  for (let i = 0; i < 40; i += 1) {
    d.add(['runs'], timers.now());
    timers.advance(100);
  }
  // Events every 100 ms for 4 s: reloads at 1.5 s and 3 s (and the last after the quiet time).
  assert.deepEqual(calls, [1500, 3000]);
  timers.advance(1000);
  assert.deepEqual(calls, [1500, 3000, 4200]);
  d.add(['runs'], timers.now());
  d.cancel();
  timers.advance(5000);
  assert.equal(calls.length, 3, 'a cancelled debouncer calls nothing');
});
