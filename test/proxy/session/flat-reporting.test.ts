/**
 * How the request path reports, read off the source (issue 30, items 4 and 5): an exchange tells
 * the attempt loop how its attempt settled and how its answer's body ended, nothing else; the
 * attempts' owner interface holds only calls; no code of the request path tells a client that
 * left by a status (`client_closed` is its name).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '../../..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** The members of `export interface <name> { … }` in a file: `name(` for a method, `name` for a field. */
function members(file: string, name: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const start = text.indexOf(`export interface ${name} {`);
  assert.notEqual(start, -1, `${name} in ${file}`);
  const body = text.slice(start, text.indexOf('\n}', start));
  return [...body.matchAll(/^ {2}(?:readonly )?(\w+)(\(|\??:)/gm)].map((m) =>
    m[2] === '(' ? `${m[1]}(` : m[1],
  );
}

test('an exchange reports to the attempt loop twice at most: how its attempt settled, and how its body ended', () => {
  // Beside them, the request's total deadline, which the exchange only stops when a route stage
  // holds a head that came (its wait is the stage's): a capability, not a third report.
  assert.deepEqual(members('src/proxy/forward/exchange-outcome.ts', 'ExchangeOwner'), [
    'settled(',
    'deadline',
    'bodyOver(',
  ]);
});

test("the attempts' owner interface holds only what the attempts and the cache call: no field of the session's", () => {
  const owner = members('src/proxy/session/attempts-owner.ts', 'AttemptsOwner');
  assert.deepEqual(
    owner.filter((member) => !member.endsWith('(')),
    [],
  );
  assert.ok(!owner.includes('responseSpent('), 'a refused head travels in the failed outcome');
});

test('no code of the request path compares a status with 499: a client that left is client_closed', () => {
  const found = ['proxy', 'upstream', 'core', 'observe', 'server'].flatMap((group) =>
    sources(join(ROOT, 'src', group))
      .filter((file) => /[!=]==?\s*499\b|\b499\s*[!=]==?/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(ROOT, file)),
  );
  assert.deepEqual(found, []);
});
