/**
 * A received field name in lower case (field-names.ts): a well-known name in any spelling, and a
 * name not listed, alike; a field map keyed by them finds each field by its lower-case name.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fieldMap } from '../../../src/core/net/downstream.ts';
import { lowerFieldName } from '../../../src/core/net/field-names.ts';

test('lowerFieldName: the lower-case name, whatever the spelling, listed or not', () => {
  for (const [sent, lower] of [
    ['Host', 'host'],
    ['host', 'host'],
    ['HOST', 'host'],
    ['User-Agent', 'user-agent'],
    ['user-AGENT', 'user-agent'],
    ['TE', 'te'],
    ['X-Forwarded-For', 'x-forwarded-for'],
    ['X-Custom-Thing', 'x-custom-thing'],
    ['constructor', 'constructor'],
  ])
    assert.equal(lowerFieldName(sent), lower, sent);
});

test('fieldMap: fields by lower-case name, repeats joined, the singletons first-wins, set-cookie a list', () => {
  const fields = fieldMap([
    'Host',
    'a.example',
    'HOST',
    'b.example',
    'Accept',
    'text/html',
    'accept',
    '*/*',
    'Cookie',
    'a=1',
    'cookie',
    'b=2',
    'Set-Cookie',
    'x=1',
    'X-Thing',
    'one',
    'x-thing',
    'two',
  ]);
  assert.deepEqual(
    { ...fields },
    {
      host: 'a.example',
      accept: 'text/html, */*',
      cookie: 'a=1; b=2',
      'set-cookie': ['x=1'],
      'x-thing': 'one, two',
    },
  );
});
