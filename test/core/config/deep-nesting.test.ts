/**
 * A file of values nested thousands deep runs the YAML parser out of stack: that was told as
 * "Maximum call stack size exceeded" and "Invalid regular expression: … Stack overflow", one line
 * per frame that gave up. It is one problem now, saying what is wrong, where it was found.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';
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

// The composer catches running out of stack, the parser before it did not: 2,000 levels of
// indentation (or of "- " on one line) followed by a line back at the left made it recurse once a
// level as it closed them, and the RangeError came out of `check` as an internal error (exit 70).
// Read again in the same process (a reload, the library's parseConfig), the parser's code is
// optimized and its frames smaller: it got past those levels and the composer ran out of stack
// instead, told at the line it had reached (901, 999, 1,077…) beside the half-read rest's own
// syntax errors. The same text is the same one problem however warm the process is.
test('block nesting that closes past the parser’s stack is the same one problem, at its deepest line', () => {
  const levels = Array.from({ length: 2_000 }, (_, i) => `${' '.repeat(i)}k:\n`).join('');
  const dashes = `x:\n${'- '.repeat(10_000)}1\n`;
  for (let round = 1; round <= 8; round++) {
    for (const [text, line, column] of [
      [`${levels}routes: []\n`, 2_000, 2_000],
      [`${dashes}routes: []\n`, 2, 20_001],
    ] as const) {
      const problems = problemsOf(text);
      assert.equal(
        problems.length,
        1,
        `round ${round}: ${problems.map((p) => `${p.line}:${p.column} ${p.message}`).join('; ')}`,
      );
      assert.equal(problems[0]?.message, DEEP);
      assert.deepEqual([problems[0]?.line, problems[0]?.column, problems[0]?.path], [line, column, '']);
    }
  }
});

test('candor check exits 78 with it', () => {
  const file = join(tempDir('candor-deep-'), 'candor.yaml');
  writeFileSync(file, `listen: ${'{a: '.repeat(20_000)}${'}'.repeat(20_000)}\n`);
  const run = spawnSync(process.execPath, [BIN, 'check', file], { encoding: 'utf8' });
  assert.equal(run.status, 78);
  assert.match(
    run.stderr,
    new RegExp(`^${file}:1:\\d+  ${DEEP.replace(/[[{(")]/g, '\\$&')}\\n1 problem in ${file}\\n$`),
  );
});

// Each of the parser's errors about a "[" left open looked through the whole document for its
// opening (and through the fields above it for its path): 20,000 lines of `kN: [a` (200 KB) took
// minutes, a reload holding the primary all that while. A child still running after a minute is
// killed, and fails the test.
test('20,000 "[" left open: candor check exits 78 with each opening, and returns', () => {
  const file = join(tempDir('candor-deep-'), 'candor.yaml');
  writeFileSync(file, Array.from({ length: 20_000 }, (_, i) => `k${i}: [a\n`).join(''));
  const run = spawnSync(process.execPath, [BIN, 'check', file], {
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  assert.equal(run.status, 78, run.stderr);
  const lines = run.stderr.split('\n');
  assert.equal(
    lines[0],
    `${file}:1:5  k0: this [ has no closing ] before line 2: close it, or indent the lines it holds past its key`,
  );
  assert.equal(lines.at(-2), `20000 problems in ${file}`);
});
