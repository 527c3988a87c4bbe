/**
 * The request record's invariants, read off the source: each field has one writing module
 * (src/observe/log/request-record.ts says so), the status is written only by the session, and only
 * the session writes the access-log line.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '../../..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Field name → the files that assign it on a `record` (or `this.record`, `session.record`). */
function recordWriters(): Map<string, Set<string>> {
  const writers = new Map<string, Set<string>>();
  const assign = /\brecord\.(\w+)\s*(?:=(?!=)|\+=|-=|\+\+|--)|\brecord\.(tries)\.push\(/g;
  for (const file of sources(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(assign)) {
      const field = m[1] ?? m[2];
      const set = writers.get(field) ?? new Set<string>();
      set.add(relative(ROOT, file));
      writers.set(field, set);
    }
  }
  return writers;
}

test('every field of the request record has exactly one writing module', () => {
  const shared = [...recordWriters()]
    .filter(([, files]) => files.size > 1)
    .map(([field, files]) => `${field}: ${[...files].join(', ')}`);
  assert.deepEqual(shared, []);
});

test("the record's status is written by the request session alone", () => {
  assert.deepEqual([...(recordWriters().get('status') ?? [])], ['src/proxy/session/request-session.ts']);
});

test("the request's stage, its connection's reuse, its time held and its backoffs are the attempt loop's, written by it alone", () => {
  const writers = recordWriters();
  for (const field of ['stage', 'reusedConnection', 'heldMs', 'backoffMs', 'tries'])
    assert.deepEqual([...(writers.get(field) ?? [])], ['src/proxy/session/attempts.ts'], field);
});

test('only the request session writes the access-log line', () => {
  const callers = sources(join(ROOT, 'src'))
    .filter((file) => /\blogRequest\(/.test(readFileSync(file, 'utf8')))
    .map((file) => relative(ROOT, file))
    .filter((file) => file !== 'src/observe/log/access-log.ts');
  // Through the log phase, which the session alone calls.
  assert.deepEqual(callers, ['src/proxy/session/log-phase.ts']);
  const phaseCallers = sources(join(ROOT, 'src'))
    .filter((file) => /\blogPhase\(/.test(readFileSync(file, 'utf8')))
    .map((file) => relative(ROOT, file))
    .filter((file) => file !== 'src/proxy/session/log-phase.ts');
  assert.deepEqual(phaseCallers, ['src/proxy/session/request-session.ts']);
});

test('only the request session writes a gateway error response', () => {
  const callers = sources(join(ROOT, 'src'))
    .filter((file) => /\bwrite(Raw)?ErrorAnswer\(/.test(readFileSync(file, 'utf8')))
    .map((file) => relative(ROOT, file))
    .filter((file) => file !== 'src/proxy/decide/error-answer.ts');
  assert.deepEqual(callers, ['src/proxy/session/request-session.ts']);
});
