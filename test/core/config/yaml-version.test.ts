/**
 * A config is YAML 1.2 (docs/configuration.md): `yes` is text, and where a boolean is expected a
 * config error. A `%YAML 1.1` directive switched the parser to YAML 1.1's types, silently:
 * `insecure_skip_verify: yes` turned certificate checks off, `010` was 8 and `1:30` 90.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { MINIMAL, problem, problemsOf } from './config-fixture.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const DIRECTIVE =
  'a config is read as YAML 1.2, and %YAML 1.1 would read it otherwise (yes, on and off as true or false, 010 as 8, 1:30 as 90): remove the directive';
const SKIP_VERIFY = `${MINIMAL}    tls: { insecure_skip_verify: yes }\n`;

test('%YAML 1.1 is refused at its line, before any value is read; %YAML 1.2 reads as without it', () => {
  assert.deepEqual(problemsOf(`%YAML 1.1\n---\n${SKIP_VERIFY}`), [problem(1, 1, '', DIRECTIVE)]);
  assert.deepEqual(problemsOf(`# edge\n%YAML 1.1\n---\n${MINIMAL}`), [problem(2, 1, '', DIRECTIVE)]);
  assert.deepEqual(problemsOf(`%YAML 1.2\n---\n${SKIP_VERIFY}`), [
    problem(11, 34, 'upstreams.api.tls.insecure_skip_verify', 'expected true or false, got "yes"'),
  ]);
  parseConfig(`%YAML 1.2\n---\n${MINIMAL}`, '<test>', {});
});

test('candor check exits 78 with it', () => {
  const file = join(tempDir('candor-yaml-version-'), 'candor.yaml');
  writeFileSync(file, `%YAML 1.1\n---\n${SKIP_VERIFY}`);
  const run = spawnSync(process.execPath, [BIN, 'check', file], { encoding: 'utf8' });
  assert.equal(run.status, 78);
  assert.equal(run.stderr, `${file}:1:1  ${DIRECTIVE}\n1 problem in ${file}\n`);
});
