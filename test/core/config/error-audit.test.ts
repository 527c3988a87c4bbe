// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are config text, where ${VAR} is the syntax under test.
/**
 * Bad input gets a clear answer: a config error naming the file, line and field, never a crash.
 * Real files in a temp folder, loaded as `candor check` and a reload load them; each case the
 * message a reader acts on, file and line included.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { loadConfigFile } from '../../../src/core/config/load.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const root = tempDir('candor-error-audit-');
after(() => rmSync(root, { recursive: true, force: true }));
let made = 0;

/** A folder of `files` (name → text), the main one `candor.yaml`; returns its path. */
function folder(files: Record<string, string | Buffer>): string {
  const dir = join(root, String(made++));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return join(dir, 'candor.yaml');
}

/** Each problem as `file:line:column path: message`, each file (in the message too) named from the folder. */
async function problems(path: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  try {
    await loadConfigFile(path, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const dir = `${dirname(path)}/`;
    return error.problems.map(
      (p) => `${p.file.replace(dir, '')}:${p.line}:${p.column} ${p.path}: ${p.message.replaceAll(dir, '')}`,
    );
  }
  assert.fail('the config loaded');
}

const UPSTREAM = 'upstreams:\n  site: { targets: [{ url: "http://127.0.0.1:3000" }] }\n';
const ROUTE = 'routes:\n  - match: { path: / }\n    upstream: site\n';

test('a value a variable gave that its field refuses names the variable: empty, or short enough to be quoted as it is', async () => {
  // Quoted as `${PORT}` when it is 4 characters or more; shorter, or empty, the quote held the
  // value and never the variable, so a reader saw `got "127.0.0.1:"` and no hint of where it came from.
  const path = folder({
    'candor.yaml': `listen:\n  - address: 127.0.0.1:\${PORT}\n    max_connections: \${CONNS}\n    http2: \${H2}\n${UPSTREAM}${ROUTE}`,
  });
  assert.deepEqual(await problems(path, { PORT: '', CONNS: 'abc', H2: 'yes-please' }), [
    'candor.yaml:2:14 listen[0].address: expected host:port like 127.0.0.1:8080 or [::1]:8080, got "127.0.0.1:" (environment variable PORT is empty)',
    'candor.yaml:3:22 listen[0].max_connections: expected open client connections, a whole number from 1 to 10000000, got "abc" (from environment variable CONNS)',
    'candor.yaml:4:12 listen[0].http2: expected true or false, got "${H2}"',
  ]);
});

test('an upstream or plugin two files define is refused in the later, naming the file and line of the other', async () => {
  const path = folder({
    'candor.yaml': `listen: [{ address: "127.0.0.1:0" }]\ninclude: [conf.d/*.yaml]\n${ROUTE}${UPSTREAM}`,
    'conf.d/a.yaml':
      '# the team\'s upstream\nupstreams:\n  api: { targets: [{ url: "http://127.0.0.1:3001" }] }\nplugins:\n  tag: { module: ./tag.mjs }\n',
    'conf.d/b.yaml':
      'upstreams:\n  site: { targets: [{ url: "http://127.0.0.1:3002" }] }\n  api: { targets: [{ url: "http://127.0.0.1:3003" }] }\nplugins:\n  tag: { module: ./tag.mjs }\n',
    'conf.d/tag.mjs': 'export default { name: "tag" };\n',
  });
  assert.deepEqual(await problems(path), [
    "conf.d/b.yaml:2:3 upstreams.site: upstream 'site' is defined in candor.yaml too, at line 7: an upstream has one name in the whole config",
    "conf.d/b.yaml:3:3 upstreams.api: upstream 'api' is defined in conf.d/a.yaml too, at line 3: an upstream has one name in the whole config",
    "conf.d/b.yaml:5:3 plugins.tag: plugin 'tag' is defined in conf.d/a.yaml too, at line 5: a plugin has one name in the whole config",
  ]);
});

test('a file that is not UTF-8 and no mapping either is told at its byte alone, never quoted with a U+FFFD in place of it', async () => {
  // A Latin-1 or binary file (a stray archive a glob matched) read as one line of text: its
  // "expected a mapping …, got" quoted the text with U+FFFD, which docs/configuration.md rules out.
  const latin1 = Buffer.from('caf\xe9 au lait\n', 'latin1');
  assert.deepEqual(
    await problems(
      folder({
        'candor.yaml': `listen: [{ address: "127.0.0.1:0" }]\ninclude: [conf.d/*.yaml]\n${ROUTE}${UPSTREAM}`,
        'conf.d/a.yaml': latin1,
      }),
    ),
    [
      'conf.d/a.yaml:1:4 : the file is not UTF-8 here: byte 0xe9 is no character in UTF-8 (a file saved as Latin-1 or Windows-1252?); save the file as UTF-8',
    ],
  );
  assert.deepEqual(await problems(folder({ 'candor.yaml': latin1 })), [
    'candor.yaml:1:4 : the file is not UTF-8 here: byte 0xe9 is no character in UTF-8 (a file saved as Latin-1 or Windows-1252?); save the file as UTF-8',
  ]);
});

test('a default that is wrong for a route it reached is told once, at the default, naming that route', async () => {
  // route_defaults.timeouts.total is fine for /fast, below /slow's upstream's response timeout:
  // the problem, told at the default, said "for the requests this route sends", and no route.
  const path = folder({
    'candor.yaml': `listen: [{ address: "127.0.0.1:0" }]
include: [conf.d/*.yaml]
route_defaults:
  timeouts: { total: 10s }
routes:
  - { match: { path: /fast }, upstream: fast }
upstreams:
  fast: { targets: [{ url: "http://127.0.0.1:3001" }], timeouts: { response: 5s } }
  slow: { targets: [{ url: "http://127.0.0.1:3002" }], timeouts: { response: 30s } }
`,
    'conf.d/slow.yaml':
      'routes:\n  - { match: { path: /slow }, upstream: slow }\n  - { match: { path: /slower }, upstream: slow }\n',
  });
  assert.deepEqual(await problems(path), [
    "candor.yaml:4:22 route_defaults.timeouts.total: for routes[0] of conf.d/slow.yaml, timeouts.total (10s, route_defaults.timeouts.total at line 4 of candor.yaml) must be at least timeouts.response (30s, the upstream's) for the requests this route sends to upstream 'slow': the whole exchange cannot end before its response head is allowed to arrive",
  ]);
});

/** A main file of one listener, `site` and a route to it, with `more` after. */
const MAIN = (more = '') => `listen: [{ address: "127.0.0.1:0" }]\n${UPSTREAM}${more}`;
const BOMB = Array.from(
  { length: 10 },
  (_, i) =>
    `x${i}: &a${i} [${
      i === 0
        ? 'lol, lol, lol'
        : Array(9)
            .fill(`*a${i - 1}`)
            .join(', ')
    }]`,
).join('\n');

/** Held cases, pinned: each file set and every problem it gets, as `candor check` and a reload tell them. */
const HELD: readonly {
  name: string;
  files: Record<string, string | Buffer>;
  env?: NodeJS.ProcessEnv;
  problems: string[];
}[] = [
  {
    name: 'a mistake in an include of an include names that file, its line, its field; relative to the including file',
    files: {
      'candor.yaml': MAIN('include: [a/one.yaml]\n'),
      'a/one.yaml': 'include: [b/two.yaml]\n',
      'a/b/two.yaml':
        'routes:\n  - match: { path: /x }\n    upstream: site\n    timeouts: { connect: banana }\n',
    },
    problems: [
      'a/b/two.yaml:4:26 routes[0].timeouts.connect: expected a duration like 250ms, 5s or 1m, got "banana"',
    ],
  },
  {
    name: 'a missing include, and a glob that matches nothing',
    files: { 'candor.yaml': MAIN(`include: [nothere.yaml, "zz/*.yaml"]\n${ROUTE}`) },
    problems: [
      'candor.yaml:4:11 include[0]: "nothere.yaml" matches no file in <dir>: an include that finds nothing is a mistake (a moved folder, a typo), not an empty list',
      'candor.yaml:4:25 include[1]: "zz/*.yaml" matches no file in <dir>: an include that finds nothing is a mistake (a moved folder, a typo), not an empty list',
    ],
  },
  {
    name: 'an include cycle',
    files: {
      'candor.yaml': MAIN(`include: [c/one.yaml]\n${ROUTE}`),
      'c/one.yaml': 'include: [two.yaml]\nroutes: []\n',
      'c/two.yaml': 'include: [one.yaml]\nroutes: []\n',
    },
    problems: [
      'c/two.yaml:1:11 include[0]: c/one.yaml includes itself (candor.yaml → one.yaml → two.yaml → one.yaml): an include may not come back to a file that includes it',
    ],
  },
  {
    name: "a route's own wrong value beside a default names the route's line",
    files: {
      'candor.yaml': MAIN(
        'route_defaults:\n  limits: { body: 1MiB }\nroutes:\n  - match: { path: / }\n    upstream: site\n    limits: { body: lots }\n',
      ),
    },
    problems: ['candor.yaml:9:21 routes[0].limits.body: expected a size like 512, 8KiB or 10MiB, got "lots"'],
  },
  {
    name: "a default's wrong value is told once, at the default's line",
    files: {
      'candor.yaml': MAIN(
        `route_defaults:\n  limits: { body: lots }\n${ROUTE}  - match: { path: /b }\n    upstream: site\n`,
      ),
    },
    problems: [
      'candor.yaml:5:19 route_defaults.limits.body: expected a size like 512, 8KiB or 10MiB, got "lots"',
    ],
  },
  {
    name: 'an unset variable names the variable, the field and the line',
    files: { 'candor.yaml': `listen: [{ address: "127.0.0.1:\${PORT}" }]\n${UPSTREAM}${ROUTE}` },
    problems: [
      'candor.yaml:1:21 listen[0].address: environment variable PORT is not set (set it, or give a default with ${PORT:-value})',
    ],
  },
  {
    name: 'a key written twice names both lines',
    files: { 'candor.yaml': MAIN(`${ROUTE}    upstream: other\n`) },
    problems: [
      'candor.yaml:7:5 routes[0].upstream: written twice in this mapping (first at line 6): a key may appear once; keep the one you mean',
    ],
  },
  {
    name: 'a merge key is refused at its key',
    files: { 'candor.yaml': MAIN(`${ROUTE}    timeouts: { <<: { connect: 1s } }\n`) },
    problems: [
      'candor.yaml:7:17 routes[0].timeouts["<<"]: a merge key (<<) is not read: a config is YAML 1.2, which has none; write the fields out, or alias a whole value (targets: *api_targets)',
    ],
  },
  {
    name: 'a mistake inside an anchor used twice is told for each use',
    files: {
      'candor.yaml': `listen: [{ address: "127.0.0.1:0" }]\nupstreams:\n  site: &u { targets: [{ url: "http://127.0.0.1:3000" }], pool: { max_connections: -1 } }\n  copy: *u\n${ROUTE}`,
    },
    problems: [
      'candor.yaml:3:84 upstreams.site.pool.max_connections: expected a whole number of connections, at least 1, got -1',
      'candor.yaml:3:84 upstreams.copy.pool.max_connections: expected a whole number of connections, at least 1, got -1',
    ],
  },
  {
    name: 'a tab as indentation',
    files: { 'candor.yaml': MAIN('routes:\n  - match: { path: / }\n\tupstream: site\n') },
    problems: ['candor.yaml:6:1 routes: a tab indents this line: YAML indents with spaces only'],
  },
  {
    name: 'a byte-order mark and CRLF line ends leave lines and columns right',
    files: { 'candor.yaml': `\ufeff${MAIN(ROUTE.replace('site', 'nope'))}`.replaceAll('\n', '\r\n') },
    problems: ["candor.yaml:6:15 routes[0].upstream: no upstream named 'nope' (defined: site)"],
  },
  {
    name: 'a second document',
    files: { 'candor.yaml': MAIN(`${ROUTE}---\nroutes: []\n`) },
    problems: ['candor.yaml:7:1 : a config file holds one YAML document; remove the extra "---"'],
  },
  {
    // A document ended by "..." and another after it, without a "---": the message sent the
    // reader looking for a "---" the file does not have.
    name: 'a second document after the end marker ...',
    files: { 'candor.yaml': MAIN(`${ROUTE}...\nroutes: []\n`) },
    problems: [
      'candor.yaml:8:1 : a config file holds one YAML document, and the "..." above this line ends it: remove the "..." and what follows it, or keep one of the two',
    ],
  },
  {
    name: 'a !!binary tag',
    files: { 'candor.yaml': MAIN(`${ROUTE}    name: !!binary aGVsbG8=\n`) },
    problems: [
      "candor.yaml:7:20 routes[0].name: the YAML tag !!binary is not read: a config takes YAML 1.2's own values (text, numbers, true or false, null, lists, mappings) and no tag but !!str, !!int, !!float, !!bool, !!null, !!map and !!seq; remove the tag and write the value itself (an environment variable is ${NAME})",
    ],
  },
  {
    name: 'aliases nested to a billion values are refused at the alias that passes the bound',
    files: { 'candor.yaml': MAIN(`${ROUTE}${BOMB}\n`) },
    problems: [
      'candor.yaml:11:10 : more than 1000 aliases to resolve (one inside an aliased value counts each time that value is used); the count passed it at *a3: a config needs far fewer; write the values out, or nest fewer aliases',
    ],
  },
  {
    name: 'a file of more than 4 MiB',
    files: { 'candor.yaml': MAIN(`${ROUTE}${'# padding\n'.repeat(500_000)}`) },
    problems: [
      'candor.yaml:0:0 : cannot read config file candor.yaml: more than 4 MiB: no config is that large (one using every field is a few KiB)',
    ],
  },
  {
    name: 'a folder where the file should be',
    files: { 'candor.yaml/inside.yaml': MAIN(ROUTE) },
    problems: ['candor.yaml:0:0 : cannot read config file candor.yaml: is a directory'],
  },
  {
    name: 'an empty file',
    files: { 'candor.yaml': '' },
    problems: ['candor.yaml:1:1 : expected a mapping with listen, routes and upstreams, got nothing'],
  },
  {
    name: 'JSON, which is YAML, with its lines',
    files: {
      'candor.yaml':
        '{"listen": [{"address": "127.0.0.1:0"}],\n "upstreams": {"site": {"targets": [{"url": "http://127.0.0.1:3000"}]}},\n "routes": [{"upstream": "nope"}]}\n',
    },
    problems: ["candor.yaml:3:26 routes[0].upstream: no upstream named 'nope' (defined: site)"],
  },
  {
    name: 'durations: no bare number, space, exponent, sign, leading dot, two units or underscore',
    files: {
      'candor.yaml': MAIN(
        `${ROUTE}    timeouts: { connect: 5, response: 5 s, read: 1e3ms, send: -1s, total: .5s, tunnel_idle: 5m30s, tunnel_half_closed: 1_000 }\n`,
      ),
    },
    problems: ['connect', 'response', 'read', 'send', 'total', 'tunnel_idle', 'tunnel_half_closed'].map(
      (key) => `routes[0].timeouts.${key}`,
    ),
  },
  {
    name: 'booleans are YAML 1.2 true and false; yes and on are text',
    files: {
      'candor.yaml': `listen: [{ address: "127.0.0.1:0", http2: yes }]\n${UPSTREAM}${ROUTE}    strip_prefix: on\n`,
    },
    problems: [
      'candor.yaml:1:43 listen[0].http2: expected true or false, got "yes"',
      'candor.yaml:7:19 routes[0].strip_prefix: expected true or false, got "on"',
    ],
  },
  {
    name: 'a %YAML 1.1 directive',
    files: { 'candor.yaml': `%YAML 1.1\n---\n${MAIN(ROUTE)}` },
    problems: [
      'candor.yaml:1:1 : a config is read as YAML 1.2, and %YAML 1.1 would read it otherwise (yes, on and off as true or false, 010 as 8, 1:30 as 90): remove the directive',
    ],
  },
];

for (const { name, files, env, problems: expected } of HELD)
  test(`held: ${name}`, async () => {
    const path = folder(files);
    const told = (await problems(path, env)).map((p) => p.replaceAll(dirname(path), '<dir>'));
    // A case that lists bare fields pins where each is refused, not the words.
    const fields = expected.every((e) => !e.includes(' '));
    assert.deepEqual(fields ? told.map((p) => p.split(' ')[1]?.slice(0, -1)) : told, expected);
  });

test('a whole number past 2^53 − 1 is refused as written, never quoted as the number it rounds to', async () => {
  // 9007199254740993 reads as 9007199254740992: the problem quoted a number the file does not hold.
  const path = folder({
    'candor.yaml': MAIN(`${ROUTE}    limits: { body: 9007199254740993, buffer: 0x20000000000001 }\n`),
  });
  assert.deepEqual(await problems(path), [
    'candor.yaml:7:21 routes[0].limits.body: 9007199254740993 is no exact number: a whole number past 9007199254740991 (2^53 − 1) is read rounded, as 9007199254740992',
    'candor.yaml:7:47 routes[0].limits.buffer: 0x20000000000001 is no exact number: a whole number past 9007199254740991 (2^53 − 1) is read rounded, as 9007199254740992',
  ]);
});
