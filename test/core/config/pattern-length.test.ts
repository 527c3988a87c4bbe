/**
 * A route's pattern (a header's or a query parameter's `regex`, `rewrite.regex`) is at most
 * 4096 characters: a longer one is refused by `candor check` with file, line and field, before
 * RE2 compiles it (a 1 MiB pattern took near 2 s to compile, once for the check and again for
 * each route it was weighed against), and the problem says its length rather than quoting it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');

/** A route matching `header` (X-Tenant) and rewriting with `rewrite`. */
const configWith = (header: string, rewrite: string) => `listen:
  - address: 127.0.0.1:0
routes:
  - match:
      path: /api
      headers: { X-Tenant: { regex: "${header}" } }
    upstream: app
    rewrite: { regex: "${rewrite}", replace: /v2$1 }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`;

function check(text: string): { file: string; status: number | null; stdout: string; stderr: string } {
  const file = join(tempDir('candor-pattern-'), 'candor.yaml');
  writeFileSync(file, text);
  const result = spawnSync(process.execPath, [BIN, 'check', file], { encoding: 'utf8' });
  return { file, status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A pattern RE2 takes, `length` characters long. */
const pattern = (length: number) => `^/api(/.*)?$|${'a'.repeat(length - 13)}`;

test('a pattern of 4096 characters is taken', () => {
  assert.equal(pattern(4096).length, 4096);
  const { status, stderr } = check(configWith(pattern(4096), pattern(4096)));
  assert.equal(stderr, '');
  assert.equal(status, 0);
});

test('candor check refuses a longer pattern, in a header test or a rewrite, with file, line and field, and its length', () => {
  const { file, status, stdout, stderr } = check(configWith(pattern(4097), pattern(2 * 1024 * 1024)));
  assert.equal(status, 78);
  assert.equal(stdout, '');
  const why = "(a route's pattern is a few dozen: match a prefix, or split the route)";
  assert.equal(
    stderr,
    `${file}:6:37  routes[0].match.headers.X-Tenant.regex: expected a pattern of at most 4096 characters, got one of 4097 ${why}\n` +
      `${file}:8:23  routes[0].rewrite.regex: expected a pattern of at most 4096 characters, got one of 2097152 ${why}\n` +
      `2 problems in ${file}\n`,
  );
});
