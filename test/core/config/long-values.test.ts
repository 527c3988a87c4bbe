import assert from 'node:assert/strict';
import { test } from 'node:test';
import { problem, problemsOf, UPSTREAM_AND_ROUTE } from './config-fixture.ts';

// A problem is printed by `candor check`, logged by a refused reload and returned by the admin
// API: the value it quotes is cut, so a megabyte pasted into one field is not a megabyte in each.
test('a long value quoted in a problem is cut to its first 100 characters, with its length', () => {
  const address = `${'1'.repeat(2_000_000)}:8080`;
  const text = `listen:\n  - address: "${address}"\n${UPSTREAM_AND_ROUTE}`;
  assert.deepEqual(problemsOf(text), [
    problem(
      2,
      14,
      'listen[0].address',
      `expected host:port like 127.0.0.1:8080 or [::1]:8080, got "${'1'.repeat(100)}"… (2000005 characters)`,
    ),
  ]);
});

test('a cut counts characters, not UTF-16 units, so it never splits one', () => {
  const address = `${'1'.repeat(99)}${'😀'.repeat(200)}`;
  const text = `listen:\n  - address: "${address}"\n${UPSTREAM_AND_ROUTE}`;
  const [found] = problemsOf(text);
  assert.equal(
    found?.message,
    `expected host:port like 127.0.0.1:8080 or [::1]:8080, got "${'1'.repeat(99)}😀"… (299 characters)`,
  );
});

test('a value of 100 characters is quoted whole', () => {
  const address = 'a'.repeat(100);
  const text = `listen:\n  - address: "${address}"\n${UPSTREAM_AND_ROUTE}`;
  const [found] = problemsOf(text);
  assert.equal(found?.message, `expected host:port like 127.0.0.1:8080 or [::1]:8080, got "${address}"`);
});
