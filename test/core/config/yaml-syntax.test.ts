/**
 * A YAML syntax error is a config problem as any other: its line, the field it is in, and what to
 * do, in words. The parser's own messages ("Tabs are not allowed as indentation", "Nested mappings
 * are not allowed in compact mappings") named no field, and one mistake was often two or three of
 * them on one line.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';
import { problem, problemsOf } from './config-fixture.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');

const LISTEN = 'listen:\n  - address: 127.0.0.1:8080\n';
const UPSTREAMS = 'upstreams:\n  api:\n    targets:\n      - url: http://127.0.0.1:3001\n';
/** A config whose routes are `routes` (its lines from line 4). */
const withRoutes = (routes: string) => `${LISTEN}routes:\n${routes}${UPSTREAMS}`;

const TAB = 'a tab indents this line: YAML indents with spaces only';

test('a tab as indentation is told at its line, in the field it is under', () => {
  assert.deepEqual(problemsOf(`listen:\n\t- address: 127.0.0.1:8080\nroutes: []\n`), [
    problem(2, 1, 'listen', TAB),
  ]);
  assert.deepEqual(
    problemsOf(
      withRoutes('  - name: r1\n    upstream: api\n    response_headers:\n      set:\n\t    X-A: b\n'),
    ),
    [problem(8, 1, 'routes[0].response_headers', TAB)],
  );
});

test('a value holding ": ", or followed by a line indented deeper, is told once, at the value', () => {
  const message =
    'this value reads as a mapping: quote a value that holds ": " ("a: b"), and indent the next field as this one';
  assert.deepEqual(problemsOf(withRoutes('  - name: r1: x\n    upstream: api\n')), [
    problem(4, 11, 'routes[0].name', message),
  ]);
  assert.deepEqual(problemsOf(withRoutes('  - name: r1\n     upstream: api\n')), [
    problem(4, 11, 'routes[0].name', message),
  ]);
});

test('a field indented unlike the fields above it is told once, at its line', () => {
  assert.deepEqual(problemsOf(withRoutes('  - name: r1\n    upstream: api\n  bad\n')), [
    problem(
      6,
      1,
      'routes',
      'this line is indented unlike the fields above it (line 5): the fields of one mapping start at one column',
    ),
  ]);
  // The field above is the nearest one written above, however deep (here match.path, not match).
  assert.deepEqual(
    problemsOf(withRoutes('  - name: r1\n    match:\n      path: /x\n     host: a\n    upstream: api\n')),
    [
      problem(
        7,
        1,
        'routes[0].match',
        'this line is indented unlike the fields above it (line 6): the fields of one mapping start at one column',
      ),
    ],
  );
  assert.deepEqual(problemsOf(withRoutes('  - name: r1\n   upstream: api\n')), [
    problem(
      5,
      1,
      'routes[0]',
      'this line is indented less than the fields above it and has no "- " of its own: indent it as they are, or start a list item with "- "',
    ),
  ]);
});

test('a list item among fields is told at its line, naming the mapping it is in', () => {
  assert.deepEqual(problemsOf(withRoutes('  - name: r1\n    upstream: api\n    - x\n')), [
    problem(
      6,
      1,
      'routes[0]',
      'a list item ("- …") among fields: write its field above it ("field:", the items below it)',
    ),
  ]);
});

test('text after a value is over, and a reserved first character, name the value', () => {
  assert.deepEqual(problemsOf(withRoutes("  - name: 'it's'\n    upstream: api\n")), [
    problem(
      4,
      15,
      'routes[0].name',
      `text after the value's end: a quote closed early ('it''s' inside '…', or "it's"), or words after a closing ] or }`,
    ),
  ]);
  assert.deepEqual(problemsOf(withRoutes('  - name: r1\n    upstream: @api\n')), [
    problem(
      5,
      15,
      'routes[0].upstream',
      'a value cannot start with @ (kept by YAML for later use): quote it ("@…")',
    ),
  ]);
});

test('candor check prints it at the file, line and field, and exits 78', () => {
  const file = join(tempDir('candor-yaml-syntax-'), 'candor.yaml');
  writeFileSync(file, `listen:\n\t- address: 127.0.0.1:8080\nroutes: []\n`);
  const run = spawnSync(process.execPath, [BIN, 'check', file], { encoding: 'utf8' });
  assert.equal(run.status, 78);
  assert.equal(run.stderr, `${file}:2:1  listen: ${TAB}\n1 problem in ${file}\n`);
});

test('a ] or } that closes nothing is told once: the lines after it, left unread, are not each a problem', () => {
  assert.deepEqual(problemsOf(withRoutes('  - name: r1\n    upstream: api\n    methods: [GET, POST]]\n')), [
    problem(
      6,
      25,
      'routes[0].methods',
      'this ] closes nothing: remove it, or write the [ it was meant to close',
    ),
  ]);
  assert.deepEqual(
    problemsOf(`${LISTEN}}\n${withRoutes('  - name: r1\n    upstream: api\n').slice(LISTEN.length)}`),
    [problem(3, 1, '', 'this } closes nothing: remove it, or write the { it was meant to close')],
  );
});

test('fields in { } or [ ] not parted by a ",", and an entry left empty, are told at the value', () => {
  assert.deepEqual(
    problemsOf(withRoutes('  - name: r1\n    upstream: api\n    match: { path: /x host: a }\n')),
    [
      problem(
        6,
        20,
        'routes[0].match.path',
        'a ": " inside { } or [ ] that is no field of its own: part the fields with "," ({ a: 1, b: 2 }), or quote a value that holds ": "',
      ),
    ],
  );
  assert.deepEqual(
    problemsOf(withRoutes('  - name: r1\n    upstream: api\n    match: { methods: [GET,, POST] }\n')),
    [problem(6, 28, 'routes[0].match.methods', 'a "," with no entry before it: remove it')],
  );
});

// A `[` closed with `}` (or `{` with `]`) was told as "this [ has no closing ] before line 1",
// the line it is on, and a `[` whose next line held `oops: }` as "this { has no closing }": the
// parser reads `oops:` in a `[ ]` as a mapping of its own, which the file writes no `{` for.
test('a [ or { closed with the other bracket is told as that, at the opening, naming the closer', () => {
  const WRONG = (opener: string, closer: string, at: string, right: string) =>
    `this ${opener} is closed with ${closer} (${at}): close it with ${right}`;
  assert.deepEqual(problemsOf('listen: [ a, b }\n'), [
    problem(1, 9, 'listen', WRONG('[', '}', 'line 1, column 16', ']')),
  ]);
  assert.deepEqual(problemsOf('listen: { a: b ]\n'), [
    problem(1, 9, 'listen', WRONG('{', ']', 'line 1, column 16', '}')),
  ]);
  assert.deepEqual(problemsOf('listen: [\n  oops: }\n'), [
    problem(1, 9, 'listen', WRONG('[', '}', 'line 2, column 9', ']')),
  ]);
  // Brackets inside quotes are text, and a nested pair closed right is no mistake.
  assert.deepEqual(problemsOf('listen: [ "}", { a: [b] } }\n'), [
    problem(1, 9, 'listen', WRONG('[', '}', 'line 1, column 27', ']')),
  ]);
});
