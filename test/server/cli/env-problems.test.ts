/**
 * A config problem that quotes a value the environment gave shows it as `${NAME}`, as GET /config
 * does: `Bearer ${API_TOKEN}` with a control character in the token is refused, and the token is
 * in none of what says so (`candor check`'s stderr, `serve`'s refusal to start, the POST /reload
 * answer, the "reload refused" log line), nor in a reload's problem found once the file loaded
 * (a new listener's address in use). A value shorter than 4 characters (`on`) is quoted as it is:
 * it is no secret, and would turn the message's own words into templates.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} is what a problem shows in place of a variable's value.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { adminCall, killAtExit, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const ADMIN_TOKEN = 'env-problems-admin-0123456789abcdef';
/** Invalid in a header value (a control character), and a secret all the same. */
const SECRET = 'env-secret-7c1e9a04d2b8';
const ENV = { API_TOKEN: `${SECRET}\x01`, MODE: 'on' };

/** A route setting `Authorization: Bearer ${API_TOKEN}` (and `X-Mode` when `mode`), on `listen`. */
function configText(listen: string, mode: boolean, admin = ''): string {
  const headers = mode
    ? `{ Authorization: "Bearer \${API_TOKEN}", X-Mode: "\${MODE} " }`
    : '{ X-Edge: edge }';
  return `listen:
  - address: ${listen}
${admin}routes:
  - match: { path: / }
    upstream: app
    request_headers: { set: ${headers} }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`;
}

/** The two problems, each with its file, line and field, the token as `${API_TOKEN}`. */
function assertTemplated(text: string, file: string): void {
  assert.ok(!text.includes(SECRET), text);
  assert.ok(text.includes(`${file}:6:46  routes[0].request_headers.set.Authorization: `), text);
  assert.ok(text.includes('got "Bearer ${API_TOKEN}"'), text);
  assert.ok(text.includes(`${file}:6:77  routes[0].request_headers.set.X-Mode: `), text);
  assert.ok(text.includes('got "on "'), text);
}

test('candor check: a problem quotes the value the environment gave as ${NAME}, never the value', () => {
  const file = join(tempDir('candor-env-problems-'), 'candor.yaml');
  writeFileSync(file, configText('127.0.0.1:0', true));
  const result = spawnSync(process.execPath, [BIN, 'check', file], {
    encoding: 'utf8',
    env: { ...process.env, ...ENV },
  });
  assert.equal(result.status, 78);
  assert.equal(result.stdout, '');
  assert.equal(
    result.stderr,
    `${file}:6:46  routes[0].request_headers.set.Authorization: expected a header value in visible ASCII, spaces and tabs (percent-encode other characters), got "Bearer \${API_TOKEN}"
${file}:6:77  routes[0].request_headers.set.X-Mode: expected a header value without whitespace at either end (a peer drops it, an HTTP/2 one refuses the field), got "on " (from environment variable MODE)
2 problems in ${file}
`,
  );
});

test('candor serve refuses to start with the same problems, the token as ${API_TOKEN}', async () => {
  const file = join(tempDir('candor-env-problems-'), 'candor.yaml');
  writeFileSync(file, configText('127.0.0.1:0', true));
  const child = killAtExit(
    spawn(process.execPath, [BIN, 'serve', '--workers', '1', '--config', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...ENV },
    }),
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const [code] = await once(child, 'exit');
  assert.equal(code, 78);
  assertTemplated(output, file);
});

/** A config file with the admin API on a free port (its token in a file beside it), the rule still valid. */
async function adminConfig(): Promise<{ file: string; admin: string; adminPort: number }> {
  const dir = tempDir('candor-env-problems-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, ADMIN_TOKEN, { mode: 0o600 });
  const adminPort = await freePort();
  const admin = `admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }\n`;
  const file = join(dir, 'candor.yaml');
  writeFileSync(file, configText('127.0.0.1:0', false, admin));
  return { file, admin, adminPort };
}

test('POST /reload: the answer and the "reload refused" line quote the token as ${API_TOKEN}', async () => {
  const { file, admin, adminPort } = await adminConfig();
  const serve = await startServe(file, 1, { admin: true, env: ENV });
  try {
    writeFileSync(file, configText('127.0.0.1:0', true, admin));
    const answer = await adminCall(adminPort, 'POST', '/reload', { token: ADMIN_TOKEN });
    assert.equal(answer.status, 400);
    assert.ok(!answer.text.includes(SECRET), answer.text);
    const { problems } = answer.body.reload as {
      problems: { file: string; line: number; path: string; message: string }[];
    };
    assert.deepEqual(
      problems.map((p) => [p.file, p.line, p.path, p.message.slice(p.message.indexOf('got '))]),
      [
        [file, 7, 'routes[0].request_headers.set.Authorization', 'got "Bearer ${API_TOKEN}"'],
        [file, 7, 'routes[0].request_headers.set.X-Mode', 'got "on " (from environment variable MODE)'],
      ],
    );

    const refused = 'reload refused: the config is invalid; the running config stays';
    await serve.waitForLines(refused, 1);
    const line = serve.lines.find((l) => l.msg === refused);
    assert.ok(!JSON.stringify(line).includes(SECRET), JSON.stringify(line));
    assert.deepEqual(
      ((line?.problems ?? []) as { path: string; message: string }[]).map((p) =>
        p.message.slice(p.message.indexOf('got ')),
      ),
      ['got "Bearer ${API_TOKEN}"', 'got "on " (from environment variable MODE)'],
    );
  } finally {
    await serve.stop();
  }
});

test('a reload refused once the file loaded (a new listener address in use) quotes ${EXTRA_LISTEN}, not the value', async () => {
  const { file, admin, adminPort } = await adminConfig();
  const squatter = createServer((socket) => socket.destroy());
  squatter.listen(0, '127.0.0.1');
  await once(squatter, 'listening');
  const taken = `127.0.0.1:${(squatter.address() as AddressInfo).port}`;
  const serve = await startServe(file, 1, { admin: true, env: { EXTRA_LISTEN: taken } });
  try {
    writeFileSync(file, configText('127.0.0.1:0\n  - address: ${EXTRA_LISTEN}', false, admin));
    const answer = await adminCall(adminPort, 'POST', '/reload', { token: ADMIN_TOKEN });
    assert.equal(answer.status, 400);
    const { problems } = answer.body.reload as {
      problems: { line: number; path: string; message: string }[];
    };
    assert.deepEqual(
      problems.map((p) => [p.line, p.path, p.message.slice(0, p.message.indexOf(': '))]),
      [[3, 'listen[1].address', 'cannot listen on ${EXTRA_LISTEN}']],
    );
    assert.ok(!answer.text.includes(taken), answer.text);
  } finally {
    await serve.stop();
    squatter.close();
  }
});
