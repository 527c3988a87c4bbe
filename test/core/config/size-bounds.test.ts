/**
 * A size written as a number past 2^53 - 1 (9007199254740993, 1e30): the schema took any integer,
 * parseSize only an exact one, so the load ended in "config loader bug" with a stack trace and
 * exit 1, in `candor check`, `serve` and a reload's reader alike. It is a config problem now.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${BODY} is a variable the file names.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { MINIMAL, problem, problemsOf } from './config-fixture.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const withBody = (body: string) =>
  `${MINIMAL.replace('  - upstream: api\n', `  - upstream: api\n    limits: { body: ${body} }\n`)}`;
const expected = (got: string) => `expected a size like 512, 8KiB or 10MiB, got ${got}`;

test('a size past 2^53 - 1 bytes, written or from a variable, is a config problem at its field', () => {
  assert.deepEqual(problemsOf(withBody('9007199254740993')), [
    // Said as written: "got 9007199254740992" quoted a number the file does not hold.
    problem(
      5,
      21,
      'routes[0].limits.body',
      '9007199254740993 is no exact number: a whole number past 9007199254740991 (2^53 − 1) is read rounded, as 9007199254740992',
    ),
  ]);
  assert.deepEqual(problemsOf(withBody('1e30')), [
    problem(5, 21, 'routes[0].limits.body', expected('1e+30')),
  ]);
  assert.equal(
    problemsOf(withBody('"${BODY}"'), { BODY: '99999999999999999999' })[0]?.path,
    'routes[0].limits.body',
  );
  assert.equal(parseConfig(withBody('9007199254740991'), '<test>', {}).routes[0]?.limits.body, 2 ** 53 - 1);
});

test('candor check exits 78 naming it, not 1 with a stack trace', () => {
  const file = join(tempDir('candor-size-'), 'candor.yaml');
  writeFileSync(file, withBody('1e30'));
  const run = spawnSync(process.execPath, [BIN, 'check', file], { encoding: 'utf8' });
  assert.equal(run.status, 78);
  assert.equal(
    run.stderr,
    `${file}:5:21  routes[0].limits.body: ${expected('1e+30')}\n1 problem in ${file}\n`,
  );
});
