/**
 * A server's list of what it holds open (open-list.ts: the HTTP/2 server's responses not yet
 * over, the HTTP/1.1 server's connections): what the drain deadline marks is exactly the members
 * added and not yet taken out, whatever the order they leave in.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OpenList } from '../../../src/proxy/accept/open-list.ts';

const member = (name: string) => ({ name, openSlot: -1 });
const names = (list: OpenList<{ name: string; openSlot: number }>) =>
  list
    .values()
    .map((m) => m.name)
    .sort();

test("members leave from the middle, the end and the front; each slot stays its member's", () => {
  const list = new OpenList<{ name: string; openSlot: number }>();
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(member);
  for (const m of [a, b, c, d]) list.add(m);
  assert.deepEqual(names(list), ['a', 'b', 'c', 'd']);
  list.delete(b);
  assert.deepEqual(names(list), ['a', 'c', 'd']);
  assert.equal(b.openSlot, -1);
  assert.equal(list.size, 3);
  list.delete(d);
  list.delete(a);
  assert.deepEqual(names(list), ['c']);
  for (const [slot, m] of list.values().entries()) assert.equal(m.openSlot, slot);
  list.delete(c);
  assert.deepEqual(names(list), []);
  assert.equal(list.size, 0);
});

test('a member taken out twice, or never added, changes nothing', () => {
  const list = new OpenList<{ name: string; openSlot: number }>();
  const [a, b, stranger] = ['a', 'b', 'stranger'].map(member);
  list.add(a);
  list.add(b);
  list.delete(a);
  list.delete(a);
  list.delete(stranger);
  assert.deepEqual(names(list), ['b']);
  assert.equal(b.openSlot, 0);
});

test('a member added again after it left is in once', () => {
  const list = new OpenList<{ name: string; openSlot: number }>();
  const [a, b] = ['a', 'b'].map(member);
  list.add(a);
  list.add(b);
  list.delete(a);
  list.add(a);
  assert.deepEqual(names(list), ['a', 'b']);
  for (const [slot, m] of list.values().entries()) assert.equal(m.openSlot, slot);
});
