/**
 * The README's "candor/client" section cannot drift from the code: its retry table agrees with
 * the failure table (clientMayRetry, furthestStage) for every type, and its tables of reasons,
 * error codes and defaults are the ones in src/kits/client/.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FAILURE_TYPES, FAILURES } from '../../src/core/failure/taxonomy.ts';
import { NO_RETRY_REASONS, RETRY_REASONS } from '../../src/core/retry/reasons.ts';
import { CLIENT_DEFAULTS } from '../../src/kits/client/options.ts';
import { UPSTREAM_ERROR_CODES } from '../../src/kits/client/upstream-error.ts';
import { docsSection } from '../helpers/docs-text.ts';

const SECTION = docsSection('candor/client').split('\n');

/** Rows of the table whose header row starts with `| first |`, as trimmed cells. */
function table(first: string): string[][] {
  const at = SECTION.findIndex((line) => line.startsWith(`| ${first} |`));
  assert.notEqual(at, -1, `the candor/client section has a table starting "| ${first} |"`);
  const rows: string[][] = [];
  for (const line of SECTION.slice(at + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

const code = (cell: string) => /^`([^`]+)`$/.exec(cell)?.[1] ?? cell;

test('the retry table says, for every failure type, what the failure table decides', () => {
  const rows = table('the attempt got');
  const rowOf = (type: string) =>
    rows.find((row) => row[0].includes(`\`${type}\``)) ??
    rows.find((row) => [...row[0].matchAll(/`([a-z_]+)\*`/g)].some((m) => type.startsWith(m[1])));
  for (const type of FAILURE_TYPES) {
    const row = rowOf(type);
    assert.ok(row, `${type} is in the retry table`);
    const kind = FAILURES[type];
    const [, reached, idempotent, post, withKey] = row;
    if (!kind.clientMayRetry) {
      assert.deepEqual([idempotent, post, withKey], ['no', 'no', 'no'], `${type} is never retried`);
    } else if (kind.furthestStage === 'not_sent') {
      assert.match(reached, /^no/, `${type} never reaches the upstream`);
      assert.deepEqual([idempotent, post, withKey], ['retry', 'retry', 'retry'], `${type}: any method`);
    } else {
      assert.equal(reached, 'yes', `${type} may have reached the upstream`);
      assert.deepEqual(
        [idempotent, post, withKey],
        ['retry', '**no**', 'retry'],
        `${type}: idempotent or keyed`,
      );
    }
  }
});

test('the reasons, the error codes and the defaults are the code’s', () => {
  const reasons = new Map(table('`reason`').map((row) => [code(row[0]), row]));
  const all = { ...RETRY_REASONS, ...NO_RETRY_REASONS };
  assert.deepEqual([...reasons.keys()].sort(), Object.keys(all).sort());
  for (const [reason, words] of Object.entries(all)) {
    assert.equal(reasons.get(reason)?.[1], Object.hasOwn(RETRY_REASONS, reason) ? 'yes' : 'no', reason);
    assert.equal(reasons.get(reason)?.[2], words, `${reason}'s words`);
  }
  const codes = table('`code`').map((row) => code(row[0]));
  assert.deepEqual(codes.sort(), Object.keys(UPSTREAM_ERROR_CODES).sort());

  const defaults = new Map(table('option').map((row) => [code(row[0]), code(row[1])]));
  const flat: Record<string, unknown> = {
    attempts: CLIENT_DEFAULTS.attempts,
    deadline: CLIENT_DEFAULTS.deadline,
    'backoff.base': CLIENT_DEFAULTS.backoff.base,
    'backoff.cap': CLIENT_DEFAULTS.backoff.cap,
    'budget.ratio': CLIENT_DEFAULTS.budget.ratio,
    'budget.window': CLIENT_DEFAULTS.budget.window,
    'budget.minPerSecond': CLIENT_DEFAULTS.budget.minPerSecond,
    'circuitBreaker.failures': CLIENT_DEFAULTS.circuitBreaker.failures,
    'circuitBreaker.openTime': CLIENT_DEFAULTS.circuitBreaker.openTime,
    idempotencyKey: CLIENT_DEFAULTS.idempotencyKey,
  };
  for (const [option, value] of Object.entries(flat))
    assert.equal(defaults.get(option), String(value), option);
});

test("the count of the gateway package's runtime dependencies the kit is set against is package.json's", () => {
  const manifest = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8'));
  const said = /the gateway package\s+declares (\d+)/.exec(SECTION.join('\n'));
  assert.ok(said, 'the candor/client section says how many the gateway package declares');
  assert.equal(Number(said[1]), Object.keys(manifest.dependencies).length);
});
