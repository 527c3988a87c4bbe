/**
 * The bootstrap file of a fleet's gateway, read as a config file is: every problem at once, each
 * with file, line, column and field; the document under the key composed with its `local`
 * section, a problem in either told where it was written.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readBootstrap } from '../../../src/core/config/bootstrap-file.ts';
import { composeConfig, placeProblem } from '../../../src/core/config/composed-config.ts';
import { ConfigError, formatConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-bootstrap-');
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function problemsOf(path: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    readBootstrap(path, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatConfigProblem);
    throw err;
  }
  return [];
}

const GOOD = `source:
  etcd:
    endpoints: [http://127.0.0.1:2379, https://10.0.0.6:2379]
    key: /candor/config
    username: candor
    password: \${ETCD_PASSWORD}
state: ./state
local:
  name: edge-1
  listen:
    - address: 127.0.0.1:0
  admin: { listen: "127.0.0.1:9901", token_env: ADMIN_TOKEN }
`;

test('a good bootstrap file: its endpoints, key, user, state folder (from its own folder), name and local section', () => {
  const path = file('good.yaml', GOOD);
  const bootstrap = readBootstrap(path, { ETCD_PASSWORD: 'secret', ADMIN_TOKEN: 'x' });
  assert.deepEqual(bootstrap.etcd, {
    endpoints: ['http://127.0.0.1:2379', 'https://10.0.0.6:2379'],
    key: '/candor/config',
    username: 'candor',
    password: 'secret',
  });
  assert.equal(bootstrap.state, join(dir, 'state'));
  assert.equal(bootstrap.name, 'edge-1');
  assert.equal(bootstrap.local.firstLine, 9);
  // Dedented, and its variables left as written: the admin token is not written out to the state folder.
  assert.equal(
    bootstrap.local.text,
    'name: edge-1\nlisten:\n  - address: 127.0.0.1:0\nadmin: { listen: "127.0.0.1:9901", token_env: ADMIN_TOKEN }\n',
  );
});

test('every problem of a bootstrap file at once, each at its file, line, column and field', () => {
  const path = file(
    'bad.yaml',
    `source:
  etcd:
    endpoints: [127.0.0.1:2379]
    key: candor/config
    password: plain-text
    tsl: {}
state: ""
local:
  name: edge-1
  routes: []
`,
  );
  assert.deepEqual(problemsOf(path), [
    `${path}:3:17  source.etcd.endpoints[0]: expected a URL like https://10.0.0.5:2379, got "127.0.0.1:2379"`,
    `${path}:4:10  source.etcd.key: expected a key like /candor/config (it starts with /, and the fleet's own keys go under it), got "candor/config"`,
    `${path}:5:15  source.etcd.password: the password comes from the environment: write password: \${ETCD_PASSWORD}`,
    `${path}:5:15  source.etcd.password: a password without a username: add username`,
    `${path}:6:5  source.etcd.tsl: unknown field 'tsl' (did you mean 'tls'?)`,
    `${path}:7:8  state: expected the path of a folder where this gateway keeps the config it runs (e.g. /var/lib/candor)`,
    `${path}:10:3  local.routes: unknown field 'routes' (known fields: name, listen, admin, metrics)`,
  ]);
});

test("a local.name the gateway's config would refuse is refused here, at its line: candor check said ok, and serve then blamed the revision", () => {
  for (const [name, written, got] of [
    ['slash', '"edge/1"', '"edge/1"'],
    ['space', '"edge 1"', '"edge 1"'],
    ['digit', '"1edge"', '"1edge"'],
    ['number', '42', '42'],
  ] as const) {
    const path = file(`name-${name}.yaml`, GOOD.replace('name: edge-1', `name: ${written}`));
    assert.deepEqual(problemsOf(path, { ETCD_PASSWORD: 'secret' }), [
      `${path}:9:9  local.name: expected a name of letters, digits, '.', '_', '-' or ':', starting with a letter, got ${got}`,
    ]);
  }
});

test('a TLS file that cannot be read is a problem at its field; a flow-mapped local section is refused', () => {
  const path = file(
    'tls.yaml',
    `source:
  etcd:
    endpoints: [https://127.0.0.1:2379]
    key: /candor/config
    tls: { ca: missing-ca.pem, cert: client.pem }
state: /tmp/x
local: { name: edge-1 }
`,
  );
  const problems = problemsOf(path);
  assert.match(
    problems[0],
    new RegExp(`^${path}:5:16  source\\.etcd\\.tls\\.ca: cannot read ${dir}/missing-ca\\.pem: `),
  );
  assert.ok(
    problems.includes(
      `${path}:5:10  source.etcd.tls: a client certificate needs its key, and a key its certificate: give both`,
    ),
    problems.join('\n'),
  );
  assert.ok(
    problems.includes(
      `${path}:7:8  local: expected a block mapping (one field a line: name, listen, admin, metrics), not { … }`,
    ),
    problems.join('\n'),
  );
});

test('the document composed with local: a local section written in the document is refused at its line; a problem in local is told at its line of the bootstrap file', () => {
  const bootstrap = readBootstrap(file('compose.yaml', GOOD), { ETCD_PASSWORD: 'secret' });
  const shared =
    'routes:\n  - name: all\n    match: { path: / }\n    upstream: app\nlisten:\n  - address: 0.0.0.0:80\n';
  const refused = composeConfig(shared, bootstrap, 'etcd:/candor/config@7');
  assert.ok('problems' in refused);
  assert.deepEqual(refused.problems.map(formatConfigProblem), [
    "etcd:/candor/config@7:5:1  listen: 'listen' is each gateway's own: it belongs in the bootstrap file's local section, not in the fleet's document",
  ]);
  // include would read files on each gateway's disk: refused in a fleet's document (issue 58, item 4).
  const including = composeConfig(
    `include: [conf.d/*.yaml]\n${shared.slice(0, shared.indexOf('listen:'))}`,
    bootstrap,
    'etcd:/candor/config@7',
  );
  assert.ok('problems' in including);
  assert.deepEqual(including.problems.map(formatConfigProblem), [
    "etcd:/candor/config@7:1:1  include: a fleet's document is the whole config, kept in etcd: include would read files on each gateway's own disk; write their routes and upstreams in the document",
  ]);
  const document =
    'routes:\n  - name: all\n    match: { path: / }\n    upstream: app\nupstreams:\n  app:\n    targets: [{ url: "http://127.0.0.1:1" }]\n';
  const composed = composeConfig(document, bootstrap, 'etcd:/candor/config@8');
  assert.ok('text' in composed);
  assert.equal(composed.documentLines, 7);
  // The admin token's variable is not set: the problem is in local, at its line of the bootstrap file.
  const running = join(dir, 'state', 'config.yaml');
  try {
    parseConfig(composed.text, running, {});
    assert.fail('the admin token variable is not set: the composed config must be refused');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    const placed = err.problems.map((p) =>
      formatConfigProblem(placeProblem(p, running, bootstrap, 'etcd:/candor/config@8', composed)),
    );
    assert.equal(placed.length, 1);
    assert.match(placed[0], new RegExp(`^${dir}/compose\\.yaml:12:\\d+  admin\\.token_env: `));
  }
});

test('a document in any form candor check takes composes with local: JSON (a trailing comma too), indented, ended by "..."; a problem in local at its line and column', () => {
  const bootstrap = readBootstrap(file('forms.yaml', GOOD), { ETCD_PASSWORD: 'secret' });
  const running = join(dir, 'state', 'config.yaml');
  const route = '{ name: all, match: { path: / }, upstream: app }';
  const upstream = '{ app: { targets: [{ url: "http://127.0.0.1:1" }] } }';
  for (const document of [
    `{ "routes": [${route}], "upstreams": ${upstream} }`,
    `{ routes: [${route}],\n  upstreams: ${upstream}, } # generated\n`,
    `  routes: [${route}]\n  upstreams: ${upstream}\n`,
    `routes: [${route}]\nupstreams: ${upstream}\n...\n`,
  ]) {
    const composed = composeConfig(document, bootstrap, 'etcd:/candor/config@9');
    assert.ok('text' in composed, JSON.stringify(document));
    // The admin token's variable unset: the one problem, in local, at line 12 column 49 of the bootstrap file.
    try {
      parseConfig(composed.text, running, {});
      assert.fail('the admin token variable is not set: the composed config must be refused');
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      assert.deepEqual(
        err.problems.map((p) =>
          formatConfigProblem(placeProblem(p, running, bootstrap, 'etcd:/candor/config@9', composed)).slice(
            0,
            60,
          ),
        ),
        [`${dir}/forms.yaml:12:49  admin.token_env: `.slice(0, 60)],
        JSON.stringify(document),
      );
    }
  }
});
