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

test('a long value the environment gave is quoted as its variable, never cut to a part of it', () => {
  const token = `${'s'.repeat(150)}\u0001`;
  const text = `listen:\n  - address: 127.0.0.1:8080\nroutes:\n  - upstream: api\n    request_headers:\n      set: { Authorization: "Bearer \${TOKEN}" }\nupstreams:\n  api:\n    targets:\n      - url: http://127.0.0.1:3001\n`;
  const [found] = problemsOf(text, { TOKEN: token });
  assert.equal(found?.path, 'routes[0].request_headers.set.Authorization');
  assert.match(found?.message ?? '', /, got "Bearer \$\{TOKEN\}"$/);
});

test("a long quote is cut after the environment's values are named, and a short one around them is kept whole", () => {
  const url = `http://${'h'.repeat(200)}.example/`;
  const text = `listen:\n  - address: "\${ADDR}"\n${UPSTREAM_AND_ROUTE}`;
  const [found] = problemsOf(text, { ADDR: url });
  assert.equal(found?.message, `expected host:port like 127.0.0.1:8080 or [::1]:8080, got "\${ADDR}"`);
});
