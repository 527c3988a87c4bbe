/**
 * Bad input of each kind, each told as an operator needs it: the line, the field and what to do,
 * never a crash nor a parser's or validator's own words. One row a case; the rows pin what an
 * audit (2026-11) found already right, beside the tests of the cases it fixed (yaml-syntax.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NAME_CHARS } from '../../../src/core/config/formats.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { MINIMAL, problem, problemsOf, SOURCE } from './config-fixture.ts';

const LISTEN = 'listen:\n  - address: 127.0.0.1:8080\n';
const ROUTE = 'routes:\n  - name: r1\n    upstream: api\n';
const UPSTREAM = 'upstreams:\n  api:\n    targets:\n      - url: http://127.0.0.1:3001\n';
/** MINIMAL-like, with `line` (a field of upstream api, four spaces in) at line 10. */
const withUpstreamField = (line: string) => `${LISTEN}${ROUTE}${UPSTREAM}    ${line}\n`;
/** With `line` (a field of route r1, four spaces in) at line 6. */
const withRouteField = (line: string) => `${LISTEN}${ROUTE}    ${line}\n${UPSTREAM}`;

const DURATION = 'expected a duration like 250ms, 5s or 1m, got';
const DOCUMENT = 'expected a mapping with listen, routes and upstreams, got';
const ROUTE_NAME =
  'expected a route name of visible characters (no control characters; one space at most between words), got';
const PATH_PREFIX =
  'a path prefix starting with "/" like /v1 (a path is matched by prefix only: match.path takes no pattern, glob or exact form)';
/** MINIMAL-like, with route r1's name written as `name` (at line 4, column 11). */
const routeNamed = (name: string) => `${LISTEN}routes:\n  - name: ${name}\n    upstream: api\n${UPSTREAM}`;

const CASES: readonly (readonly [string, string, readonly [number, number, string, string]])[] = [
  ['a document that is a list', '- a\n- b\n', [1, 1, '', `${DOCUMENT} a list`]],
  ['a document that is a word', 'hello\n', [1, 1, '', `${DOCUMENT} "hello"`]],
  ['a file of comments alone', '# nothing yet\n', [1, 1, '', `${DOCUMENT} nothing`]],
  [
    'a byte-order mark: columns on line 1 as an editor shows them',
    `\uFEFFlisten: [{ address: "127.0.0.1:99999" }]\n${ROUTE}${UPSTREAM}`,
    [
      1,
      21,
      'listen[0].address',
      'expected host:port like 127.0.0.1:8080 or [::1]:8080, got "127.0.0.1:99999" (a port is a number from 0 to 65535)',
    ],
  ],
  [
    'CRLF line ends: lines counted as an editor counts them',
    withUpstreamField('timeouts: { connect: fast }').replaceAll('\n', '\r\n'),
    [10, 26, 'upstreams.api.timeouts.connect', `${DURATION} "fast"`],
  ],
  [
    'a negative duration',
    withUpstreamField('timeouts: { connect: -1s }'),
    [10, 26, 'upstreams.api.timeouts.connect', `${DURATION} "-1s" (a duration takes no sign)`],
  ],
  [
    'a duration with a space',
    withUpstreamField('timeouts: { connect: 10 s }'),
    [
      10,
      26,
      'upstreams.api.timeouts.connect',
      `${DURATION} "10 s" (its unit is ms, s, m or h, right after the number: 10s)`,
    ],
  ],
  [
    'a duration of two dots',
    withUpstreamField('timeouts: { connect: 1.5.2s }'),
    [10, 26, 'upstreams.api.timeouts.connect', `${DURATION} "1.5.2s"`],
  ],
  [
    'a size with a space',
    withRouteField('limits: { body: 1 MiB }'),
    [
      6,
      21,
      'routes[0].limits.body',
      'expected a size like 512, 8KiB or 10MiB, got "1 MiB" (no space before the unit: 1MiB)',
    ],
  ],
  [
    'a word where a number is',
    withUpstreamField('retries: { attempts: many }'),
    [
      10,
      26,
      'upstreams.api.retries.attempts',
      'expected attempts in all, a whole number from 1 to 10, got "many"',
    ],
  ],
  [
    'a target URL without a scheme',
    MINIMAL.replace('http://127.0.0.1:3001', '127.0.0.1:3001'),
    [
      8,
      14,
      'upstreams.api.targets[0].url',
      'expected a URL like http://127.0.0.1:3001, got "127.0.0.1:3001"',
    ],
  ],
  [
    'a target URL with credentials',
    MINIMAL.replace('http://127.0.0.1:3001', 'http://bob:pw@127.0.0.1:3001'),
    [
      8,
      14,
      'upstreams.api.targets[0].url',
      'expected a URL without credentials, got "http://bob:***@127.0.0.1:3001"',
    ],
  ],
  [
    'a pattern that does not compile',
    withRouteField("rewrite: { regex: '^/(a', replace: /x }"),
    [
      6,
      23,
      'routes[0].rewrite.regex',
      'expected a pattern in RE2 syntax (linear-time: no backreferences or lookarounds), got "^/(a": missing closing ): `^/(a`',
    ],
  ],
  [
    'a route name holding a newline',
    routeNamed('"r\\n1"'),
    [4, 11, 'routes[0].name', `${ROUTE_NAME} "r\\n1"`],
  ],
  [
    'a route name holding a BEL',
    routeNamed('"edge\\a"'),
    [4, 11, 'routes[0].name', `${ROUTE_NAME} "edge\\u0007"`],
  ],
  [
    'a route name holding a DEL',
    routeNamed('"r\\x7f1"'),
    [4, 11, 'routes[0].name', `${ROUTE_NAME} "r\\u007f1"`],
  ],
  [
    'a route name holding a C1 control',
    routeNamed('"r\\x851"'),
    [4, 11, 'routes[0].name', `${ROUTE_NAME} "r\\u00851"`],
  ],
  [
    'a route name holding a bidirectional override',
    routeNamed('"r\\u202e1"'),
    [4, 11, 'routes[0].name', `${ROUTE_NAME} "r\\u202e1"`],
  ],
  [
    // No character: the access line wrote it as the escape \ud800 (which strict JSON readers
    // refuse), a metric label and the status page as U+FFFD, so neither named the route as the other.
    'a route name holding half a surrogate pair',
    routeNamed('"web\\ud800"'),
    [4, 11, 'routes[0].name', `${ROUTE_NAME} "web\\ud800"`],
  ],
  [
    // Invisible (a format character, \p{Cf}): "a\u200bb" reads as "ab" in the log, the metrics and
    // GET /status, and a PUT /routes/maintenance naming "ab" finds no such route.
    'a route name holding a zero-width space',
    routeNamed('"r\\u200b1"'),
    [4, 11, 'routes[0].name', `${ROUTE_NAME} "r\\u200b1"`],
  ],
  [
    'a route name holding a soft hyphen',
    routeNamed('"r\\u00ad1"'),
    [4, 11, 'routes[0].name', `${ROUTE_NAME} "r\\u00ad1"`],
  ],
  [
    // Files joined together (`cat a.yaml b.yaml`), each saved with a byte-order mark, leave one at
    // a line's start: read as text, it made the key `\ufeffroutes`, told as "unknown field 'routes'
    // (did you mean 'routes'?)", the mark invisible.
    'a byte-order mark past the start of the file',
    `${LISTEN}\uFEFFroutes:\n  - name: r1\n    upstream: api\n${UPSTREAM}`,
    [
      3,
      1,
      '',
      'a byte-order mark (U+FEFF) inside the file, as files joined together (cat a.yaml b.yaml) leave one: remove it; only the first line may begin with one',
    ],
  ],
  [
    'a byte-order mark past the start of an indented line',
    `${LISTEN}${ROUTE}\uFEFF  - name: r2\n    upstream: api\n${UPSTREAM}`,
    [
      6,
      1,
      '',
      'a byte-order mark (U+FEFF) inside the file, as files joined together (cat a.yaml b.yaml) leave one: remove it; only the first line may begin with one',
    ],
  ],
  [
    // Pasted from a web page or a chat: a zero-width space in a key was told as "unknown field
    // 'routes' (did you mean 'routes'?)", the character invisible in both.
    'a key holding a zero-width space',
    `${LISTEN}rou\u200btes:\n  - name: r1\n    upstream: api\n${UPSTREAM}`,
    [
      3,
      1,
      '["rou\\u200btes"]',
      "unknown field 'rou\\u200btes' (it holds \\u200b, shown as nothing or as a space: did you mean 'routes'?)",
    ],
  ],
  [
    // A no-break space after the colon is no ": " to YAML: the key ran on into the value, told
    // as "unknown field 'timeouts: { connect'", which reads as a key and its value.
    "a no-break space after a key's colon",
    withRouteField('timeouts:\u00a0{ connect: 1s }'),
    [
      6,
      5,
      'routes[0]["timeouts:\\u00a0{ connect"]',
      "unknown field 'timeouts:\\u00a0{ connect' (it holds \\u00a0, shown as nothing or as a space: write it with plain spaces, or remove it)",
    ],
  ],
  [
    'a route name holding two spaces in a row',
    routeNamed('"my  route"'),
    [4, 11, 'routes[0].name', `${ROUTE_NAME} "my  route"`],
  ],
  [
    'a route name ending in a space',
    routeNamed('"my route "'),
    [4, 11, 'routes[0].name', `${ROUTE_NAME} "my route "`],
  ],
  [
    'an upstream name holding a DEL: escaped in the field and in the message',
    `${LISTEN}routes:\n  - upstream: "a\\x7fb"\nupstreams:\n  "a\\x7fb":\n    targets:\n      - url: http://127.0.0.1:3001\n`,
    [6, 3, 'upstreams["a\\u007fb"]', `expected an upstream name of ${NAME_CHARS}, got "a\\u007fb"`],
  ],
  [
    'a listener name holding a NUL: told as a listener name',
    `listen:\n  - address: 127.0.0.1:8080\n    name: "l\\0"\n${ROUTE}${UPSTREAM}`,
    [3, 11, 'listen[0].name', `expected a listener name of ${NAME_CHARS}, got "l\\u0000"`],
  ],
  [
    'a path given a pattern: paths are matched by prefix',
    withRouteField('match: { path: { regex: "^/a" } }'),
    [6, 20, 'routes[0].match.path', `expected ${PATH_PREFIX}, got a mapping`],
  ],
  [
    'an alias used before its anchor',
    `${LISTEN}routes:\n  - name: r1\n    upstream: api\n    timeouts: *t\n  - name: r2\n    match: { path: /b }\n    upstream: api\n    timeouts: &t { response: 5s }\n${UPSTREAM}`,
    [
      6,
      15,
      'routes[0].timeouts',
      'alias *t is defined only after this line, at line 10: an alias can only name an anchor (&t) written above it; move the anchored value up',
    ],
  ],
  [
    'an alias used before its anchor on a block mapping: the line the anchor is written on',
    `${LISTEN}routes:\n  - name: r1\n    upstream: api\n    timeouts: *t\n  - name: r2\n    match: { path: /b }\n    upstream: api\n    timeouts: &t\n      response: 5s\n${UPSTREAM}`,
    [
      6,
      15,
      'routes[0].timeouts',
      'alias *t is defined only after this line, at line 10: an alias can only name an anchor (&t) written above it; move the anchored value up',
    ],
  ],
  [
    'an alias inside the value it names',
    `${LISTEN}routes:\n  - &r\n    name: r1\n    upstream: api\n    rate_limit: *r\n${UPSTREAM}`,
    [7, 17, 'routes[0].rate_limit', 'alias *r refers to the value that contains it'],
  ],
];

for (const [what, text, [line, column, path, message]] of CASES) {
  test(`${what}: told at its line and field`, () => {
    assert.deepEqual(problemsOf(text), [problem(line, column, path, message)]);
  });
}

test('a route name of words with one space between, of letters beyond ASCII or of a path, loads', () => {
  for (const name of ['"public api"', 'café', 'api.example.com/v1#2'])
    assert.equal(
      parseConfig(routeNamed(name), SOURCE, {}).routes[0].name,
      JSON.parse(`"${name.replace(/^"|"$/g, '')}"`),
    );
});
