/**
 * A target's ejection state has one owner, outlier detection (src/upstream/health/outlier.ts):
 * a local ejection and another worker's announced one both go through it. Read off the source.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '../../..');
const FIELDS = ['ejectedUntil', 'ejections', 'consecutiveFailures'];

test('only outlier detection writes the ejection fields of a target', () => {
  const writers = new Map<string, Set<string>>();
  const files = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) =>
    f.endsWith('.ts'),
  );
  for (const file of files) {
    const text = readFileSync(join(ROOT, 'src', file), 'utf8');
    for (const field of FIELDS) {
      // An assignment to the field of any object other than its declaration (`ejections = 0;` in the class).
      if (!new RegExp(`\\.${field}\\s*(?:=(?!=)|\\+=|-=|\\+\\+|--)`).test(text)) continue;
      const set = writers.get(field) ?? new Set<string>();
      set.add(relative(ROOT, join(ROOT, 'src', file)));
      writers.set(field, set);
    }
  }
  for (const field of FIELDS)
    assert.deepEqual([...(writers.get(field) ?? [])], ['src/upstream/health/outlier.ts'], field);
});
