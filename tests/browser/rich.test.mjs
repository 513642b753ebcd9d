// Tests of how the dashboard shows IZA's messages (crates/iza-server/web/js/dom.js: `rich`),
// with node:test and a minimal stand-in for `document`: spans in backticks become `<code>`
// elements holding text, markup in a message stays text, a lone backtick stays as it is. The
// pages' browser test checks the same on a real page (audit.test.mjs).
// Run by crates/iza/tests/dashboard.rs (`node --test … rich.test.mjs`).

import { test } from 'node:test';
import assert from 'node:assert/strict';

// The stand-in: elements that keep their tag and children; text is kept as strings.
class FakeNode {}
class FakeElement extends FakeNode {
  constructor(tag) { super(); this.tag = tag; this.children = []; }
  append(...children) { this.children.push(...children); }
  setAttribute() {}
}
globalThis.Node = FakeNode;
globalThis.document = { createElement: (tag) => new FakeElement(tag) };

const { rich } = await import('../../crates/iza-server/web/js/dom.js');

/** The nodes as a readable string: `<code>x</code>` for elements, text as it is. */
const show = (nodes) => nodes.map((n) => (typeof n === 'string' ? n : `<${n.tag}>${n.children.join('')}</${n.tag}>`)).join('');

test('spans in backticks become code elements', () => {
  const nodes = rich('the tool `run_task` is over its rate limit of `10/m`; retry in 6 s');
  assert.equal(show(nodes), 'the tool <code>run_task</code> is over its rate limit of <code>10/m</code>; retry in 6 s');
  assert.equal(nodes.filter((n) => typeof n !== 'string').length, 2);
  // The code elements hold text, not markup.
  assert.deepEqual(nodes[1].children, ['run_task']);
});

test('markup in a message is text, inside and outside backticks', () => {
  const nodes = rich('<img src=x onerror=alert(1)> and `<b>bold</b>`');
  assert.equal(typeof nodes[0], 'string');
  assert.equal(nodes[0], '<img src=x onerror=alert(1)> and ');
  assert.equal(nodes[1].tag, 'code');
  assert.deepEqual(nodes[1].children, ['<b>bold</b>']);
});

test('no backticks, a lone one, an empty pair, nothing', () => {
  assert.equal(show(rich('plain words')), 'plain words');
  assert.equal(show(rich('a lone ` backtick')), 'a lone ` backtick');
  assert.equal(show(rich('`a` and ` one')), '<code>a</code> and ` one');
  assert.equal(show(rich('empty `` pair')), 'empty `` pair');
  assert.equal(show(rich('`whole`')), '<code>whole</code>');
  assert.deepEqual(rich(''), []);
  assert.deepEqual(rich(null), []);
  assert.deepEqual(rich(undefined), []);
  assert.equal(show(rich(42)), '42');
});
