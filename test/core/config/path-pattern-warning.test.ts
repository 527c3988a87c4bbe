/**
 * `match.path` is a prefix taken as written: a segment written as another router's pattern (a
 * glob, `:id`, `{id}`, `<id>`) is matched as those characters, and the route takes none of the
 * paths meant. `candor check` warns at the field, naming the fixed part to write instead; a plain
 * prefix is not warned of.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { SOURCE } from './config-fixture.ts';

function warningsOf(path: string): string[] {
  const warnings: ConfigProblem[] = [];
  parseConfig(
    `listen:\n  - address: 127.0.0.1:8080\nroutes:\n  - match: { path: "${path}" }\n    upstream: api\nupstreams:\n  api:\n    targets:\n      - url: http://127.0.0.1:3001\n`,
    SOURCE,
    {},
    { warnings },
  );
  return warnings.map((w) => `${w.line} ${w.path}: ${w.message}`);
}

const said = (path: string, pattern: string, fixed: string) =>
  `4 routes[0].match.path: "${path}": match.path is a prefix taken as written, so "${pattern}" is those characters, not a pattern, and the route takes none of the paths it meant; write the fixed part, "${fixed}", which takes every path under it`;

test('a path written as a pattern is warned of at its field, with the fixed part to write', () => {
  assert.deepEqual(warningsOf('/v1/*'), [said('/v1/*', '*', '/v1/')]);
  assert.deepEqual(warningsOf('/api/**'), [said('/api/**', '**', '/api/')]);
  assert.deepEqual(warningsOf('/users/:id/posts'), [said('/users/:id/posts', ':id', '/users/')]);
  assert.deepEqual(warningsOf('/users/{id}'), [said('/users/{id}', '{id}', '/users/')]);
  assert.deepEqual(warningsOf('/files/<name>'), [said('/files/<name>', '<name>', '/files/')]);
});

test('a plain prefix is not warned of', () => {
  for (const path of ['/', '/v1', '/v1/users', '/v1/projects:list', '/a:b'])
    assert.deepEqual(warningsOf(path), [], path);
});
