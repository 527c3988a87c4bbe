// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are config text, where ${VAR} is the syntax under test.
/**
 * include: real files in a temp folder. Their routes and upstreams join the config; a problem in
 * an included file names that file, its line and the field as it writes it; a glob that matches
 * nothing, an include cycle, a top-level singleton in an include and an upstream defined twice
 * are refused, each at its key.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { loadConfigFile } from '../../../src/core/config/load.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const root = tempDir('candor-includes-');
after(() => rmSync(root, { recursive: true, force: true }));
let made = 0;

/** A folder of `files` (name → text), the main one `candor.yaml`; returns its path. */
function folder(files: Record<string, string>): string {
  const dir = join(root, String(made++));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return join(dir, 'candor.yaml');
}

const MAIN = (include: string) => `listen: [{ address: "127.0.0.1:0" }]
include: ${include}
route_defaults:
  response_headers: { set: { X-Frame-Options: DENY } }
routes:
  - name: main
    match: { path: /main }
    upstream: app
upstreams:
  app: { targets: [{ url: "http://127.0.0.1:3001" }] }
`;

async function problems(path: string): Promise<string[]> {
  try {
    await loadConfigFile(path, {});
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map(
      (p) => `${p.file.slice(p.file.lastIndexOf('/') + 1)}:${p.line} ${p.path}: ${p.message}`,
    );
  }
  assert.fail('the config loaded');
}

test("an included file's routes and upstreams join the config, after the main file's, and take the defaults", async () => {
  const path = folder({
    'candor.yaml': MAIN('[conf.d/*.yaml]'),
    'conf.d/b.yaml': 'routes:\n  - { name: b, match: { path: /b }, upstream: app }\n',
    'conf.d/a.yaml':
      'routes:\n  - { name: a, match: { path: /a }, upstream: other }\nupstreams:\n  other: { targets: [{ url: "http://127.0.0.1:3002" }] }\n',
  });
  const config = await loadConfigFile(path, {});
  assert.deepEqual(
    config.routes.map((route) => route.name),
    ['main', 'a', 'b'],
  );
  assert.deepEqual(Object.keys(config.upstreams).sort(), ['app', 'other']);
  assert.equal(config.routes[1].responseHeaders?.set[0]?.name, 'X-Frame-Options');
});

test('a problem in an included file names that file, its line and its field as that file writes it', async () => {
  const path = folder({
    'candor.yaml': MAIN('[routes.yaml]'),
    'routes.yaml': `# more routes
routes:
  - name: ok
    match: { path: /ok }
    upstream: app
  - name: bad
    match: { path: /bad }
    upstream: nowhere
    strip_prefx: true
`,
  });
  assert.deepEqual(await problems(path), [
    "routes.yaml:8 routes[1].upstream: no upstream named 'nowhere' (defined: app)",
    "routes.yaml:9 routes[1].strip_prefx: unknown field 'strip_prefx' (did you mean 'strip_prefix'?)",
  ]);
});

test('a route a problem in an included file names is named as its own file writes it', async () => {
  // The included file's routes[0] is the checked document's routes[1], and the main file's
  // routes[0] the route it repeats: named so, the problem would read as the route shadowing itself.
  const path = folder({
    'candor.yaml': MAIN('[more.yaml]'),
    'more.yaml':
      'routes:\n  - { match: { path: /main }, upstream: app }\n  - { match: { path: /main }, upstream: app }\n',
  });
  assert.deepEqual(await problems(path), [
    'more.yaml:2 routes[0].match: same host and path as routes[0] of ' +
      `${path} (/main), so this route would never be used`,
    'more.yaml:3 routes[1].match: same host and path as routes[0] of ' +
      `${path} (/main), so this route would never be used`,
  ]);
});

test("a value a problem quotes is left as written, whatever it spells (a path '/docs/routes[1]')", async () => {
  const path = folder({
    'candor.yaml': `listen: [{ address: "127.0.0.1:0" }]
include: [more.yaml]
routes:
  - { match: { path: "/docs/routes[1]" }, upstream: app }
upstreams:
  app: { targets: [{ url: "http://127.0.0.1:3001" }] }
`,
    'more.yaml': `routes:
  - { match: { path: "/docs/routes[1]" }, upstream: app }
  - { match: { path: /x }, upstream: "routes[0]" }
`,
  });
  assert.deepEqual(await problems(path), [
    `more.yaml:2 routes[0].match: same host and path as routes[0] of ${path} (/docs/routes[1]), so this route would never be used`,
    "more.yaml:3 routes[1].upstream: no upstream named 'routes[0]' (defined: app)",
  ]);
});

test('a glob that matches nothing, a cycle, a singleton in an include and an upstream twice are refused at their keys', async () => {
  assert.deepEqual(
    (await problems(folder({ 'candor.yaml': MAIN('[conf.d/*.yaml]') }))).map((p) => p.slice(0, 60)),
    ['candor.yaml:2 include[0]: "conf.d/*.yaml" matches no file in /tmp'.slice(0, 60)],
  );
  const cycle = await problems(
    folder({ 'candor.yaml': MAIN('[a.yaml]'), 'a.yaml': 'include: [candor.yaml]\nroutes: []\n' }),
  );
  assert.equal(cycle.length, 1);
  assert.match(
    cycle[0],
    /^a\.yaml:1 include\[0\]: .*candor\.yaml includes itself \(candor\.yaml → a\.yaml → candor\.yaml\)/,
  );
  assert.deepEqual(
    await problems(
      folder({
        'candor.yaml': MAIN('[extra.yaml]'),
        'extra.yaml': `listen: [{ address: "127.0.0.1:1" }]
upstreams:
  app: { targets: [{ url: "http://127.0.0.1:3009" }] }
`,
      }),
    ),
    [
      `extra.yaml:1 listen: an included file holds routes, upstreams, plugins and include only: listen is the main file's (${join(root, String(made - 1), 'candor.yaml')})`,
      `extra.yaml:3 upstreams.app: upstream 'app' is defined in ${join(root, String(made - 1), 'candor.yaml')} too, at line 10: an upstream has one name in the whole config`,
    ],
  );
});

test('a file two patterns match is included once, the second refused naming the first; a folder is no file', async () => {
  const path = folder({
    'candor.yaml': MAIN('[conf.d/a.yaml, "conf.d/*.yaml", conf.d/sub]'),
    'conf.d/a.yaml': 'routes:\n  - { name: a, match: { path: /a }, upstream: app }\n',
    'conf.d/sub/x.yaml': 'routes: []\n',
  });
  const dir = join(path, '..');
  assert.deepEqual(await problems(path), [
    `candor.yaml:2 include[1]: ${join(dir, 'conf.d/a.yaml')} is included already (by ${path}): a file is included once, or its routes would be there twice`,
    `candor.yaml:2 include[2]: cannot read ${join(dir, 'conf.d/sub')}: not a file`,
  ]);
});

// Files were told apart by path, not by what they are: a link back to the main file was read as
// another file (its listen refused, its glob matching nothing beside the link, its routes shadowed),
// and sites-enabled's links to sites-available/ included those files twice, told as shadowed routes.
test('a link is the file it points at: one back to the main file is a cycle, one to a file included already is refused as twice', async () => {
  const path = folder({
    'candor.yaml': MAIN('[conf.d/*.yaml, available/*.yaml]'),
    'available/shop.yaml': 'routes:\n  - { name: shop, match: { path: /shop }, upstream: app }\n',
  });
  const dir = join(path, '..');
  mkdirSync(join(dir, 'conf.d'));
  symlinkSync('../available/shop.yaml', join(dir, 'conf.d/shop.yaml'));
  assert.deepEqual(await problems(path), [
    `candor.yaml:2 include[1]: ${join(dir, 'available/shop.yaml')} is included already (by ${path} as ${join(dir, 'conf.d/shop.yaml')}): a file is included once, or its routes would be there twice`,
  ]);
  symlinkSync('../candor.yaml', join(dir, 'conf.d/back.yaml'));
  assert.deepEqual(await problems(path), [
    `candor.yaml:2 include[0]: ${join(dir, 'conf.d/back.yaml')} (a link to ${path}) includes itself (candor.yaml → back.yaml): an include may not come back to a file that includes it`,
    `candor.yaml:2 include[1]: ${join(dir, 'available/shop.yaml')} is included already (by ${path} as ${join(dir, 'conf.d/shop.yaml')}): a file is included once, or its routes would be there twice`,
  ]);
});

// One problem per field hid all but the first file a pattern matched: a conf.d/ with a folder and a
// link back in it took a run for each. An include list of the wrong shape quotes what it got, in an
// included file too, where no schema speaks for it.
test('each file a pattern matches that is refused is told, and an include of the wrong shape quotes what it got', async () => {
  const path = folder({
    'candor.yaml': MAIN('[conf.d/*.yaml]'),
    'conf.d/a-folder.yaml/x.yaml': 'routes: []\n',
    'conf.d/more.yaml':
      'include: shop.yaml\nroutes:\n  - { name: more, match: { path: /more }, upstream: app }\n',
  });
  const dir = join(path, '..');
  symlinkSync('../candor.yaml', join(dir, 'conf.d/back.yaml'));
  assert.deepEqual(await problems(path), [
    `candor.yaml:2 include[0]: cannot read ${join(dir, 'conf.d/a-folder.yaml')}: not a file`,
    `candor.yaml:2 include[0]: ${join(dir, 'conf.d/back.yaml')} (a link to ${path}) includes itself (candor.yaml → back.yaml): an include may not come back to a file that includes it`,
    'more.yaml:1 include: expected a list of file names or globs, relative to this file, got "shop.yaml"',
  ]);
});

test("a variable an included file uses is expanded, and kept as the environment's so GET /config shows ${NAME}", async () => {
  const path = folder({
    'candor.yaml': MAIN('[auth.yaml]'),
    'auth.yaml':
      'routes:\n  - match: { path: /x }\n    upstream: app\n    request_headers: { set: { Authorization: "Bearer ${API_TOKEN}" } }\n',
  });
  const config = await loadConfigFile(path, { API_TOKEN: 'sekrit-123' });
  assert.deepEqual(config.routes[1].requestHeaders?.set[0]?.value, ['Bearer sekrit-123']);
  assert.deepEqual(config.fromEnvironment, [{ name: 'API_TOKEN', value: 'sekrit-123' }]);
  assert.deepEqual(await problems(path), [
    'auth.yaml:4 routes[0].request_headers.set.Authorization: environment variable API_TOKEN is not set (set it, or give a default with ${API_TOKEN:-value})',
  ]);
});

// The pattern was globbed as written: `"${CONFD}/*.yaml" matches no file` beside the variable's own
// problem, and a folder that happened to be named `${CONFD}` was read.
test('an include pattern whose variable is not set is told once, as that, and nothing is read by its letters', async () => {
  // Read, its route would be refused too.
  const more = 'routes:\n  - match: { path: /more }\n    upstream: nowhere\n';
  const path = folder({
    'candor.yaml': MAIN('["${CONFD}/*.yaml"]'),
    '${CONFD}/more.yaml': more,
  });
  assert.deepEqual(await problems(path), [
    'candor.yaml:2 include[0]: environment variable CONFD is not set (set it, or give a default with ${CONFD:-value})',
  ]);
  const nested = folder({
    'candor.yaml': MAIN('["${CONFD:-conf.d}/*.yaml"]'),
    'conf.d/more.yaml': 'include: ["${TEAM}/*.yaml"]\n',
    'conf.d/${TEAM}/more.yaml': more,
  });
  assert.deepEqual(await problems(nested), [
    'more.yaml:1 include[0]: environment variable TEAM is not set (set it, or give a default with ${TEAM:-value})',
  ]);
});

test('routes in an included file that are no list (a `-` forgotten, a string, nothing) are refused at their place, never left out without a word', async () => {
  for (const [text, line, got] of [
    ['routes:\n  name: a\n  match: { path: /a }\n  upstream: app\n', 2, 'a mapping'],
    ['routes: /a\n', 1, '"/a"'],
    ['routes:\n', 1, 'nothing'],
  ] as const) {
    const path = folder({ 'candor.yaml': MAIN('[more.yaml]'), 'more.yaml': text });
    assert.deepEqual(await problems(path), [
      `more.yaml:${line} routes: expected a list of routes, got ${got}`,
    ]);
  }
});

test('an included file that is no mapping (empty, a list, a word) is refused saying what it is; `routes: []` adds nothing', async () => {
  const emptied =
    'nothing (a file emptied by mistake would drop its routes without a word: to keep an include that adds nothing, write `routes: []`)';
  for (const [text, got] of [
    ['', emptied],
    ['# routes moved to api.yaml\n', emptied],
    ['- name: a\n', 'a list'],
    ['routes\n', '"routes"'],
  ] as const) {
    const path = folder({ 'candor.yaml': MAIN('[more.yaml]'), 'more.yaml': text });
    assert.deepEqual(await problems(path), [
      `more.yaml:1 : expected a mapping with routes, upstreams and/or plugins, got ${got}`,
    ]);
  }
  const kept = folder({
    'candor.yaml': MAIN('[more.yaml]'),
    'more.yaml': '# the API moved to api.yaml\nroutes: []\n',
  });
  assert.deepEqual(
    (await loadConfigFile(kept, {})).routes.map((r) => r.name),
    ['main'],
  );
});

test('a YAML syntax error in an included file is told in that file, at its line and field', async () => {
  const path = folder({
    'candor.yaml': MAIN('[more.yaml]'),
    'more.yaml': 'routes:\n  - name: more\n\tupstream: app\n',
  });
  assert.deepEqual(await problems(path), [
    'more.yaml:3 routes: a tab indents this line: YAML indents with spaces only',
  ]);
});

// `candor check --without-secrets` reads an unset variable as empty (or a stand-in where one fits
// the field) and names it where its field then fails: in the main file it did, in an included
// file the problem said only `got ""`, and the operator was left to find which variable CI did not have.
test('without its secrets, a field of an included file that an unset variable left wrong names the variable, as the main file does', async () => {
  const path = folder({
    'candor.yaml': MAIN('[conf.d/more.yaml]'),
    'conf.d/more.yaml':
      'include: [deeper.yaml]\nroutes:\n  - match: { path: /x }\n    upstream: deep\n    request_headers: { set: { Authorization: "Bearer ${INC_TOKEN} " } }\n',
    'conf.d/deeper.yaml': 'upstreams:\n  deep: { targets: [{ url: "htp://${DEEP_URL}" }] }\n',
  });
  try {
    await loadConfigFile(path, {}, { secrets: 'may-be-absent' });
    assert.fail('the config loaded');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    assert.deepEqual(
      error.problems.map(
        (p) => `${p.file.slice(p.file.lastIndexOf('/') + 1)}:${p.line} ${p.path}: ${p.message}`,
      ),
      [
        'deeper.yaml:2 upstreams.deep.targets[0].url: expected an http:// or https:// URL, got "htp://" (scheme "htp") (environment variable DEEP_URL is not set here: read as empty)',
        'more.yaml:5 routes[0].request_headers.set.Authorization: expected a header value without whitespace at either end (a peer drops it, an HTTP/2 one refuses the field), got "Bearer  " (environment variable INC_TOKEN is not set here: read as empty)',
      ],
    );
  }
});

// The timeouts check names where each of the two timeouts is written. Told at a route of an
// included file, a default's `at line 4` sent the reader to line 4 of that file; told once at
// route_defaults, `the route's` and `this route` named none of the routes, in any file.
test("a timeouts problem between route_defaults and a route of an included file names the other's file, line and route", async () => {
  const main = `listen: [{ address: "127.0.0.1:0" }]
include: [conf.d/*.yaml]
route_defaults:
  timeouts: { response: 10s }
routes:
  - { name: main, match: { path: /main }, upstream: app }
upstreams:
  app: { targets: [{ url: "http://127.0.0.1:3001" }] }
`;
  const path = folder({
    'candor.yaml': main,
    'conf.d/a.yaml':
      'routes:\n  - name: a\n    match: { path: /a }\n    upstream: app\n    timeouts: { total: 6s }\n',
  });
  assert.deepEqual(await problems(path), [
    `a.yaml:5 routes[0].timeouts.total: timeouts.total (6s, the route's) must be at least timeouts.response (10s, route_defaults.timeouts.response at line 4 of ${path}) for the requests this route sends to upstream 'app': the whole exchange cannot end before its response head is allowed to arrive`,
  ]);
  const atDefault = folder({
    'candor.yaml': main
      .replace('{ response: 10s }', '{ total: 5s }')
      .replace(
        'url: "http://127.0.0.1:3001" }]',
        'url: "http://127.0.0.1:3001" }], timeouts: { response: 2s }',
      ),
    'conf.d/a.yaml':
      'routes:\n  - name: a\n    match: { path: /a }\n    upstream: app\n    timeouts: { response: 10s }\n',
  });
  const a = join(atDefault, '..', 'conf.d/a.yaml');
  assert.deepEqual(await problems(atDefault), [
    `candor.yaml:4 route_defaults.timeouts.total: for routes[0] of ${a}, timeouts.total (5s, route_defaults.timeouts.total at line 4 of ${atDefault}) must be at least timeouts.response (10s, the route's) for the requests this route sends to upstream 'app': the whole exchange cannot end before its response head is allowed to arrive`,
  ]);
});

// An absolute pattern was said to match no file "in" the including file's folder, where it was
// never looked for.
test('an absolute pattern that matches nothing is told without the folder it was not looked in', async () => {
  const path = folder({ 'candor.yaml': MAIN(`[${join(root, 'gone', '*.yaml')}]`) });
  assert.deepEqual(await problems(path), [
    `candor.yaml:2 include[0]: "${join(root, 'gone', '*.yaml')}" matches no file: an include that finds nothing is a mistake (a moved folder, a typo), not an empty list`,
  ]);
});

// A typo in an included file (`route:` for `routes:`) was told as "route is the main file's":
// the reader moved a field that exists nowhere to the main file, where it is refused as unknown
// (`did you mean 'routes'?`). A key no config has is unknown in an included file too, with the
// field meant where one is near; one the main file alone may hold is still told as the main file's.
test("a field no config has is unknown in an included file, with the field meant; the main file's own are told as its", async () => {
  const main = folder({
    'candor.yaml': MAIN('[conf.d/a.yaml]'),
    'conf.d/a.yaml': `route:
  - match: { path: /a }
    upstream: app
x-anchors: { a: 1 }
route_defaults: { compression: {} }
`,
  });
  assert.deepEqual(await problems(main), [
    "a.yaml:1 route: unknown field 'route' (did you mean 'routes'?)",
    "a.yaml:4 x-anchors: unknown field 'x-anchors' (an included file holds routes, upstreams, plugins and include only)",
    `a.yaml:5 route_defaults: an included file holds routes, upstreams, plugins and include only: route_defaults is the main file's (${main})`,
  ]);
});

// As in the main file, the problem says what it found: "expected a mapping of upstreams, by name"
// alone left the reader to guess what was wrong with a line that read `upstreams:` or `upstreams: []`.
test('upstreams or plugins of an included file that are no mapping say what they are', async () => {
  assert.deepEqual(
    await problems(
      folder({
        'candor.yaml': MAIN('[conf.d/a.yaml]'),
        'conf.d/a.yaml': 'routes: []\nupstreams:\nplugins: [tag]\n',
      }),
    ),
    [
      'a.yaml:2 upstreams: expected a mapping of upstreams, by name, got nothing',
      'a.yaml:3 plugins: expected a mapping of plugins, by name, got a list',
    ],
  );
});

// The bound was looked at before each file was read, with the bytes of those read before it: the
// file that passed it was taken, and two files of 3 MiB (comments, say) loaded as 6 MiB together.
test('included files past 4 MiB together are refused, the file that passes the bound too', async () => {
  const padding = `# ${'x'.repeat(98)}\n`.repeat(30_000); // 3 MB of comment
  assert.deepEqual(
    await problems(
      folder({
        'candor.yaml': MAIN('[conf.d/*.yaml]'),
        'conf.d/a.yaml': `${padding}routes: []\n`,
        'conf.d/b.yaml': `${padding}routes: []\n`,
      }),
    ),
    ['candor.yaml:2 include[0]: the included files are more than 4 MiB together: no config is that large'],
  );
});

// `candor check conf.d/api.yaml`, an included file checked on its own, was told only "missing
// required field 'listen'": as if the file lacked a field, where it is the wrong file to check.
test('a file holding only what an included file holds, checked on its own, is told to check the file that includes it', async () => {
  const path = folder({
    'candor.yaml':
      'routes:\n  - match: { path: /api }\n    upstream: api\nupstreams:\n  api: { targets: [{ url: "http://127.0.0.1:3001" }] }\n',
  });
  assert.deepEqual(await problems(path), [
    "candor.yaml:1 listen: missing required field 'listen' (a file of routes, upstreams, plugins and include only reads as one a main file includes: check that file, which includes it, or give this one a listen)",
  ]);
});
