/**
 * The README's figures for the test commands are held here: each row's test count is no less
 * than the tests its files declare (a count below that is stale: loops and tables only add to
 * it) nor half again as many; its minutes are its seconds; test:unit's count of files is its
 * globs' (within a tenth), and a time it calls "under a minute" is. The figures themselves are
 * measured runs (the row says which); what this test can read without running the suite, it
 * checks. Before, nothing did: test:unit's row still said 1,118 tests after files had left it.
 */
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { TEST_FILES } from '../suite.ts';

const ROOT = join(import.meta.dirname, '../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const scripts: Record<string, string> = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts;

/** The README's row for `npm test` / `npm run test:unit`. */
function row(command: string): string {
  const line = README.split('\n').find((l) => l.startsWith(`| \`${command}\` |`));
  assert.ok(line, `README has a row for ${command}`);
  return line;
}

/** The files an npm script's quoted globs match, as node:test expands them; `npm test`'s runner, every test file. */
function filesOf(script: string): string[] {
  if (script === 'node test/suite.ts') return globSync(TEST_FILES, { cwd: ROOT });
  const globs = [...script.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  return [...new Set(globs.flatMap((glob) => globSync(glob, { cwd: ROOT })))];
}

/** `test(…)` and `it(…)` calls written in the files (those made in a loop count once). */
function declaredTests(files: readonly string[]): number {
  let count = 0;
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    count += text.match(/^\s*(?:await )?(?:t\.)?(?:test|it)\(/gm)?.length ?? 0;
  }
  return count;
}

const number = (text: string) => Number(text.replaceAll(',', ''));

for (const [command, script] of [
  ['npm test', 'test'],
  ['npm run test:unit', 'test:unit'],
] as const) {
  test(`the README's test count for ${command} is what its files declare, give or take their tables`, () => {
    const said = /([\d,]+) tests/.exec(row(command));
    assert.ok(said, `the ${command} row says how many tests`);
    const declared = declaredTests(filesOf(scripts[script]));
    // A table-driven file declares one test a table and runs one a row (the config reference's
    // defaults: 360 rows behind one declaration): the count run may be up to twice the declared.
    assert.ok(
      number(said[1]) >= declared && number(said[1]) <= declared * 2,
      `the README says ${said[1]} tests; the files declare ${declared} (the count run is between that and twice as many)`,
    );
  });
}

test("the README's minutes for npm test are its seconds; test:unit's files are its globs' and its time is what it claims", () => {
  const all = row('npm test');
  const minutes = /about (\d+) minutes/.exec(all);
  const seconds = /(\d+) s of tests/.exec(all);
  assert.ok(minutes && seconds, 'the npm test row gives its minutes and the seconds they round');
  assert.equal(Number(minutes[1]), Math.round(Number(seconds[1]) / 60));
  const unit = row('npm run test:unit');
  const figures = /([\d,]+) tests in (\d+) files, (\d+) s on/.exec(unit);
  assert.ok(figures, 'the test:unit row gives its tests, files and seconds');
  const files = filesOf(scripts['test:unit']).length;
  assert.ok(
    Math.abs(Number(figures[2]) - files) <= files * 0.1,
    `the README says ${figures[2]} files; the globs match ${files}`,
  );
  if (/under a minute/.test(unit))
    assert.ok(Number(figures[3]) < 60, `${figures[3]} s is not under a minute`);
});
