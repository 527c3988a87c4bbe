/**
 * A YAML tag other than the core schema's is refused at its value, as is a core tag its value
 * does not fit: the parser kept either as plain text and said nothing, so `!secret admin_token`
 * was the text "admin_token" and `!!int http://…` a URL, and `candor check` said ok.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { problemsOf } from './config-fixture.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');

/** A valid config whose target's url is written `url` (line 6, column 14). */
const withUrl = (url: string) => `listen:
  - address: 127.0.0.1:8080
upstreams:
  api:
    targets:
      - url: ${url}
routes:
  - upstream: api
`;

const NOT_READ = (tag: string) =>
  `the YAML tag ${tag} is not read: a config takes YAML 1.2's own values (text, numbers, true or false, null, lists, mappings) and no tag but !!str, !!int, !!float, !!bool, !!null, !!map and !!seq; remove the tag and write the value itself (an environment variable is \${NAME})`;

test('a tag the core schema does not have is refused at its value, however the parser took it', () => {
  for (const [written, tag] of [
    ['!secret api_url', '!secret'],
    ['!!js/function "function () {}"', '!!js/function'],
    ['!!binary aHR0cDovLzEyNy4wLjAuMTozMDAx', '!!binary'],
    ['!!timestamp 2001-12-14', '!!timestamp'],
  ] as const) {
    const problems = problemsOf(withUrl(written));
    assert.deepEqual(
      problems.map(({ path, line, message }) => ({ path, line, message })),
      [{ path: 'upstreams.api.targets[0].url', line: 6, message: NOT_READ(tag) }],
      written,
    );
  }
  // On a mapping and on a key as well.
  const set = problemsOf(
    'listen:\n  - address: 127.0.0.1:8080\nupstreams: !!omap\n  - api: {}\nroutes: []\n',
  );
  assert.deepEqual(
    set.filter((p) => p.path === 'upstreams').map((p) => p.message),
    [NOT_READ('!!omap')],
  );
  const key = problemsOf(withUrl('http://127.0.0.1:3001').replace('  api:', '  !upstream api:'));
  assert.deepEqual(
    key.map(({ path, line, column, message }) => ({ path, line, column, message })),
    [{ path: 'upstreams.api', line: 4, column: 13, message: NOT_READ('!upstream') }],
  );
});

test('a core tag its value does not fit is refused; one it fits, and !, are read as YAML 1.2 reads them', () => {
  assert.deepEqual(
    problemsOf(withUrl('!!int http://127.0.0.1:3001')).map(({ path, line, message }) => ({
      path,
      line,
      message,
    })),
    [
      {
        path: 'upstreams.api.targets[0].url',
        line: 6,
        message:
          'the YAML tag !!int does not fit the value written after it (YAML 1.2 reads none of its kind there); remove the tag or write such a value',
      },
    ],
  );
  parseConfig(withUrl('!!str http://127.0.0.1:3001'), '<test>', {});
  parseConfig(withUrl('! http://127.0.0.1:3001'), '<test>', {});
  const typed = `${withUrl('http://127.0.0.1:3001')}    ` // weight and a seq, tagged as they are
    .replace(
      '      - url: http://127.0.0.1:3001\n',
      '      - url: http://127.0.0.1:3001\n        weight: !!int 3\n',
    )
    .replace('routes:', 'routes: !!seq');
  assert.equal(parseConfig(typed, '<test>', {}).upstreams.api?.targets[0]?.weight, 3);
});

test('candor check names the file, line and field of an unknown tag and exits 78', () => {
  const dir = tempDir('candor-tags-');
  const file = join(dir, 'candor.yaml');
  writeFileSync(file, withUrl('!include upstream.yaml'));
  const run = spawnSync(process.execPath, [BIN, 'check', file], { encoding: 'utf8' });
  assert.equal(run.status, 78);
  assert.equal(run.stdout, '');
  assert.equal(
    run.stderr,
    `${file}:6:23  upstreams.api.targets[0].url: ${NOT_READ('!include')}\n1 problem in ${file}\n`,
  );
});
