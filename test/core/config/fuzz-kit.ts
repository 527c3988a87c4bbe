/**
 * Shared by the config fuzz tests: the loader driven as `candor check` drives it
 * (loadConfigFile, src/server/cli/check.ts), and the property every outcome must have: a config,
 * or config problems each naming a file, a line within that file and a field (or "" for the file
 * itself), in words (no stack, no JS error's name, one line each, as `candor check` prints them).
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ConfigError, type ConfigProblem } from '../../../src/core/config/config-error.ts';
import { type LoadOptions, loadConfigFile } from '../../../src/core/config/load.ts';
import type { GatewayConfig } from '../../../src/core/config/types.ts';

/**
 * The seed every fuzz property runs with: the same cases each run, so a failure is reproducible.
 * CANDOR_FUZZ_SEED and CANDOR_FUZZ_RUNS (a factor on each property's runs) search further by hand.
 */
export const SEED = Number(process.env.CANDOR_FUZZ_SEED ?? 20261128);

/** A property's runs: `runs` (kept to a few seconds a file, the suite's budget), times CANDOR_FUZZ_RUNS. */
export const runs = (runs: number): number => runs * Number(process.env.CANDOR_FUZZ_RUNS ?? 1);

/** What a load came to: the config, or its problems; anything else thrown fails the test. */
export type Outcome = { readonly config: GatewayConfig } | { readonly problems: readonly ConfigProblem[] };

export async function outcomeOf(
  path: string,
  env: NodeJS.ProcessEnv,
  options: LoadOptions = {},
): Promise<Outcome> {
  try {
    return { config: await loadConfigFile(path, env, options) };
  } catch (error) {
    if (error instanceof ConfigError) return { problems: error.problems };
    // Printed whole: the counterexample is the thing to fix.
    assert.fail(
      `the loader threw something other than a ConfigError: ${(error as Error)?.stack ?? String(error)}`,
    );
  }
}

/** Lines of text as the loader counts them (by "\n"; a text ending in one has an empty last line). */
function lineCount(text: string): number {
  let lines = 1;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++;
  return lines;
}

/** What no problem's text holds: a stack frame, a JS error's own name, an object printed as such. */
const NOT_WORDS =
  /\n|\bat .*:\d+:\d+\)|\b(?:TypeError|RangeError|ReferenceError|SyntaxError)\b|\[object \w+\]/;

/**
 * Each problem names a file (the main one or one it includes), a line in it (≥ 1 and within its
 * lines; 0 only for a file that cannot be read, said as such), a column and a field path (""
 * only for the file as a whole), and says what is wrong in one line of words.
 */
export function assertWellTold(problems: readonly ConfigProblem[], main: string): void {
  assert.ok(problems.length > 0, 'a ConfigError with no problem');
  const texts = new Map<string, string>();
  const textOf = (file: string): string => {
    const absolute = isAbsolute(file) ? file : resolve(file);
    let text = texts.get(absolute);
    if (text === undefined) {
      text = readFileSync(absolute, 'utf8');
      texts.set(absolute, text);
    }
    return text;
  };
  for (const problem of problems) {
    const said = JSON.stringify(problem);
    assert.equal(typeof problem.file, 'string', said);
    assert.ok(problem.file !== '', `no file: ${said}`);
    assert.equal(typeof problem.path, 'string', said);
    assert.ok(problem.message.trim() !== '', `no message: ${said}`);
    assert.doesNotMatch(problem.message, NOT_WORDS, `not words: ${said}`);
    assert.ok(
      Number.isInteger(problem.line) && Number.isInteger(problem.column),
      `not whole numbers: ${said}`,
    );
    if (problem.line === 0) {
      assert.equal(problem.file, main, `line 0 in an included file: ${said}`);
      assert.equal(problem.column, 0, said);
      assert.equal(problem.path, '', said);
      assert.match(problem.message, /^cannot read /, `line 0, yet the file was read: ${said}`);
      continue;
    }
    assert.ok(problem.line >= 1 && problem.column >= 1, `line or column below 1: ${said}`);
    const lines = lineCount(textOf(problem.file));
    assert.ok(problem.line <= lines, `line ${problem.line} past the file's ${lines} lines: ${said}`);
  }
}

/** The outcome was a config, or problems told as assertWellTold says. */
export function assertConfigOrTold(outcome: Outcome, main: string): void {
  if ('problems' in outcome) assertWellTold(outcome.problems, main);
}
