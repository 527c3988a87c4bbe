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
