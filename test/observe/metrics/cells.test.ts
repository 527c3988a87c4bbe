/**
 * A family hands out one cell per label set: the cell asked for last is kept and compared
 * first (cells.ts), and whatever order label sets come in, each count lands in its own cell.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { counterFamily, histogramFamily } from '../../../src/observe/metrics/cells.ts';

test('in any order of label sets, each count lands in the cell of its labels, and no cell is made twice', () => {
  // Few values per label, so that runs of the same set and returns to an older one are common;
  // 200 and '200' are two label values to a Map, and so to the family.
  const value = fc.constantFrom<string | number>('a', 'b', '', 200, '200', 0, Number.NaN);
  fc.assert(
    fc.property(fc.array(fc.tuple(value, value, value, value), { maxLength: 60 }), (sets) => {
      const family = counterFamily(['w', 'x', 'y', 'z']);
      const model = new Map<string, number>();
      const keyOf = (set: readonly unknown[]) => JSON.stringify(set.map((v) => [typeof v, String(v)]));
      for (const set of sets) {
        family.cell(set[0], set[1], set[2], set[3]).value++;
        model.set(keyOf(set), (model.get(keyOf(set)) ?? 0) + 1);
      }
      assert.equal(family.cells.length, model.size);
      for (const set of sets) {
        const cell = family.cell(set[0], set[1], set[2], set[3]);
        assert.deepEqual(cell.labels, {
          w: String(set[0]),
          x: String(set[1]),
          y: String(set[2]),
          z: String(set[3]),
        });
        assert.equal(cell.value, model.get(keyOf(set)));
      }
    }),
    { numRuns: 500 },
  );
});

test('a family of fewer labels compares only those: the same two values give the same histogram cell', () => {
  const family = histogramFamily(['upstream', 'target'], [0.1, 1]);
  family.cell('app', 'http://a').observe(0.05);
  family.cell('app', 'http://b').observe(0.5);
  family.cell('app', 'http://a').observe(2);
  assert.equal(family.cells.length, 2);
  assert.deepEqual([...family.cell('app', 'http://a').counts], [1, 0, 1]);
  assert.deepEqual([...family.cell('app', 'http://b').counts], [0, 1, 0]);
});
