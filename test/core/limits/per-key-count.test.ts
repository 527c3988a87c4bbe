import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PerKeyCount } from '../../../src/core/limits/per-key-count.ts';

test('a key holds up to its max; an entry goes when its count returns to 0', () => {
  const table = new PerKeyCount(10);
  const a1 = table.acquire('a', 2);
  const a2 = table.acquire('a', 2);
  assert.ok(a1 && a2);
  assert.equal(table.acquire('a', 2), undefined);
  a1();
  a1();
  assert.equal(table.count('a'), 1, 'a release counts once');
  a2();
  assert.equal(table.size, 0);
});

test('the table holds at most maxKeys addresses: a new one past it is refused, a known one is not', () => {
  const table = new PerKeyCount(2);
  const a = table.acquire('a', 5);
  assert.ok(table.acquire('b', 5));
  assert.equal(table.acquire('c', 5), undefined);
  assert.ok(table.acquire('a', 5));
  a?.();
  assert.ok(table.acquire('a', 5));
});
