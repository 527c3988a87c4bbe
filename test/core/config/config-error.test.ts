import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, formatConfigProblems } from '../../../src/core/config/config-error.ts';

test('problems are printed one a line as file:line:column  path: message, then counted', () => {
  const text = formatConfigProblems([
    {
      file: 'candor.yaml',
      line: 12,
      column: 7,
      path: 'upstreams.api.timeouts.connect',
      message: 'expected a duration like 250ms, 5s or 1m, got "fast"',
    },
    { file: 'candor.yaml', line: 3, column: 1, path: '', message: 'Map keys must be unique' },
  ]);
  assert.equal(
    text,
    [
      'candor.yaml:12:7  upstreams.api.timeouts.connect: expected a duration like 250ms, 5s or 1m, got "fast"',
      'candor.yaml:3:1  Map keys must be unique',
      '2 problems in candor.yaml',
    ].join('\n'),
  );
});

test('a problem with no line is printed with the file alone', () => {
  const error = new ConfigError([
    {
      file: 'gone.yaml',
      line: 0,
      column: 0,
      path: '',
      message: 'cannot read config file /srv/gone.yaml: no such file',
    },
  ]);
  assert.equal(error.name, 'ConfigError');
  assert.ok(error instanceof Error);
  assert.equal(
    error.message,
    'gone.yaml  cannot read config file /srv/gone.yaml: no such file\n1 problem in gone.yaml',
  );
});
