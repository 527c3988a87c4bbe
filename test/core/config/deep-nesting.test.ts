/**
 * A file of values nested thousands deep runs the YAML parser out of stack: that was told as
 * "Maximum call stack size exceeded" and "Invalid regular expression: … Stack overflow", one line
 * per frame that gave up. It is one problem now, saying what is wrong, where it was found.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { problemsOf } from './config-fixture.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const DEEP =
  'values nested too deeply to read (thousands of levels of "[", "{", "- " or indentation): a config nests a few';

test('flow or block nesting past the parser’s stack is one problem saying so, at its line', () => {
  const flow = `listen: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`;
  const block = Array.from({ length: 3_000 }, (_, i) => `${' '.repeat(i)}k:\n`).join('');
  for (const text of [flow, block]) {
    const problems = problemsOf(text);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.message, DEEP);
    assert.equal(problems[0]?.path, '');
  }
});

test('candor check exits 78 with it', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'candor-deep-')), 'candor.yaml');
  writeFileSync(file, `listen: ${'{a: '.repeat(20_000)}${'}'.repeat(20_000)}\n`);
  const run = spawnSync(process.execPath, [BIN, 'check', file], { encoding: 'utf8' });
  assert.equal(run.status, 78);
  assert.match(
    run.stderr,
    new RegExp(`^${file}:1:\\d+  ${DEEP.replace(/[[{(")]/g, '\\$&')}\\n1 problem in ${file}\\n$`),
  );
});
