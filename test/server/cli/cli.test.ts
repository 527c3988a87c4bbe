/** The `candor` command as a real child process: exit codes, output, serve and drain. */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { READERS } from '../../../src/kits/explain/detect-format.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { request } from '../../helpers/http-client.ts';
import { killAtExit, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const dir = tempDir('candor-cli-');
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const valid = (port: number | string, target: string) => `name: cli-edge
listen:
  - address: 127.0.0.1:${port}
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${target}
`;

test('--version and --help exit 0; no command and an unknown one exit 64', async () => {
  const version = await run(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^candor \d+\.\d+\.\d+\n$/);
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /candor serve --config FILE/);
  assert.match(help.stdout, /candor check FILE/);
  // Every format explain reads is named, from the one registry (it once named 3 of 15).
  assert.match(help.stdout, new RegExp(`\\b${READERS.length} formats`));
  for (const reader of READERS)
    assert.match(help.stdout, new RegExp(`[ ,]${reader.format}[,;]`), reader.format);
  // The reference it points to is there (it named a README section the README no longer has).
  const reference = /^Config reference: (\S+)/m.exec(help.stdout)?.[1] ?? '';
  assert.match(readFileSync(join(import.meta.dirname, '../../..', reference), 'utf8'), /^# Configuration/m);
  assert.match(
    readFileSync(join(import.meta.dirname, '../../../README.md'), 'utf8'),
    new RegExp(`\\]\\(${reference}\\)`),
  );
  assert.equal((await run([])).code, 64);
  const unknown = await run(['frobnicate']);
  assert.equal(unknown.code, 64);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  assert.equal((await run(['serve', '--no-such-flag'])).code, 64);
  const workers = await run(['serve', '--workers', '0', '--config', 'x.yaml']);
  assert.equal(workers.code, 64);
  assert.match(workers.stderr, /--workers must be a number from 1 to 256/);
});

test('check accepts a valid file and starts nothing', async () => {
  const result = await run(['check', file('ok.yaml', valid(8, 'http://127.0.0.1:9'))]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /ok \(gateway "cli-edge", 1 listener\(s\), 1 route\(s\), 1 upstream\(s\)\)/);
});

test('check warns, and still exits 0, when an error page template has no {{request_id}}: at the line of the field', async () => {
  const page = file('page.html', '<h1>{{status}} {{reason}}</h1>');
  const result = await run([
    'check',
    file('pages.yaml', `${valid(8, 'http://127.0.0.1:9')}errors:\n  pages: { html: ${page} }\n`),
  ]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /: ok \(gateway "cli-edge"/);
  assert.match(
    result.stderr,
    // Line and column of its key, as every other warning and problem (it was the file alone).
    /pages\.yaml:12:12 {2}errors\.pages\.html: warning: ".*page\.html" has no \{\{request_id\}\}/,
  );
});

test('check prints every problem with file, line, column and field, and exits 78', async () => {
  const path = file(
    'bad.yaml',
    `name: cli-edge
listen:
  - address: 127.0.0.1:8080
routes:
  - match: { path: / }
    upstream: nowhere
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:9
    timeouts: { connect: fast }
`,
  );
  const result = await run(['check', path]);
  assert.equal(result.code, 78);
  assert.match(
    result.stderr,
    new RegExp(`${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:6:15 +routes\\[0\\]\\.upstream: `),
  );
  assert.match(
    result.stderr,
    /:11:26 +upstreams\.app\.timeouts\.connect: expected a duration like 250ms, 5s or 1m, got "fast"/,
  );
  assert.match(result.stderr, /2 problems in /);
});

test('check --without-secrets takes a password in a variable as the secret it is: unset, it is listed, a whole URL checked with a stand-in, and named where no value of it could be right', async () => {
  const text = (url: string) => `listen: [{ address: 127.0.0.1:8080 }]
routes:
  - upstream: app
    rate_limit: { rate: 10, burst: 20 }
upstreams:
  app: { targets: [{ url: "${url}" }] }
store:
  redis: { url: "redis://:\${CHECK_TEST_REDIS_PASSWORD}@10.0.0.9:6379" }
`;
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.CHECK_TEST_REDIS_PASSWORD;
  delete env.CHECK_TEST_APP_URL;
  const path = file('ci-redis.yaml', text('http://127.0.0.1:9'));
  // The docs' own form for Redis's password (it said "environment variable … is not set", exit 78).
  const lenient = await run(['check', '--without-secrets', path], env);
  assert.equal(lenient.code, 0, lenient.stderr);
  assert.match(
    lenient.stdout,
    /serve will need:\n {2}environment variable CHECK_TEST_REDIS_PASSWORD \(store\.redis\.url\): not set here\n$/,
  );
  assert.equal((await run(['check', path], env)).code, 78, 'without the flag it must be set');
  // A URL the environment gives whole is checked with a stand-in: empty, no URL could pass (it
  // was refused, `got ""`, and CI had to set a dummy URL).
  const wholePath = file('ci-url.yaml', text(`\${CHECK_TEST_APP_URL}`));
  const whole = await run(['check', '--without-secrets', wholePath], env);
  assert.equal(whole.code, 0, whole.stderr);
  assert.match(
    whole.stdout,
    /environment variable CHECK_TEST_APP_URL \(upstreams\.app\.targets\[0\]\.url\): not set here\n/,
  );
  // A field no value of the variable can make right is still refused, and says which it read as empty.
  const typo = await run(
    ['check', '--without-secrets', file('ci-typo.yaml', text(`htp://\${CHECK_TEST_APP_URL}`))],
    env,
  );
  assert.equal(typo.code, 78);
  assert.match(
    typo.stderr,
    /upstreams\.app\.targets\[0\]\.url: expected an http:\/\/ or https:\/\/ URL, got "htp:\/\/" \(scheme "htp"\) \(environment variable CHECK_TEST_APP_URL is not set here: read as empty\)/,
  );
});

// The stand-ins were a word, a number, a duration and a URL: a listener's or the admin API's
// address given whole by a variable (`address: ${LISTEN}`, a port the orchestrator picks) fit none,
// so the CI check docs/configuration.md promises needs "no dummy values" refused it, `got ""`.
test('check --without-secrets passes a listener and admin address a variable gives whole, and lists it; a wrong one set is refused', async () => {
  const path = file(
    'ci-address.yaml',
    `listen: [{ address: "\${CHECK_TEST_LISTEN}" }]
routes: [{ upstream: app }]
upstreams:
  app: { targets: [{ url: "http://127.0.0.1:9" }] }
admin: { listen: "\${CHECK_TEST_ADMIN_LISTEN}", token_env: CHECK_TEST_ADMIN_TOKEN }
`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.CHECK_TEST_LISTEN;
  delete env.CHECK_TEST_ADMIN_LISTEN;
  delete env.CHECK_TEST_ADMIN_TOKEN;
  const lenient = await run(['check', '--without-secrets', path], env);
  assert.equal(lenient.code, 0, lenient.stderr);
  assert.equal(
    lenient.stdout,
    `${path}: ok without its secrets (gateway "candor", 1 listener(s), 1 route(s), 1 upstream(s))\n` +
      'serve will need:\n' +
      '  environment variable CHECK_TEST_LISTEN (listen[0].address): not set here\n' +
      '  environment variable CHECK_TEST_ADMIN_LISTEN (admin.listen): not set here\n' +
      '  environment variable CHECK_TEST_ADMIN_TOKEN (admin.token_env): not set here\n',
  );
  // Set, its value is checked in full.
  const bad = await run(['check', '--without-secrets', path], {
    ...env,
    CHECK_TEST_LISTEN: '127.0.0.1:99999',
  });
  assert.equal(bad.code, 78);
  assert.match(bad.stderr, /listen\[0\]\.address: expected host:port like 127\.0\.0\.1:8080/);
});

// A Redis URL and a trusted proxy's CIDR given whole by a variable fit none of the stand-ins either:
// the store and the proxies of a deploy are the machine's, which CI does not have.
test("check --without-secrets passes a Redis URL and a trusted proxy's CIDR a variable gives whole, and lists them", async () => {
  const path = file(
    'ci-redis-cidr.yaml',
    `listen: [{ address: 127.0.0.1:8080 }]
trust_forwarded_from: ["\${CHECK_TEST_PROXY_CIDR}"]
routes:
  - upstream: app
    rate_limit: { rate: 10, burst: 20 }
upstreams:
  app: { targets: [{ url: "http://127.0.0.1:9" }] }
store:
  redis: { url: "\${CHECK_TEST_REDIS_URL}" }
`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.CHECK_TEST_PROXY_CIDR;
  delete env.CHECK_TEST_REDIS_URL;
  const lenient = await run(['check', '--without-secrets', path], env);
  assert.equal(lenient.code, 0, lenient.stderr);
  assert.equal(lenient.stderr, '');
  assert.equal(
    lenient.stdout,
    `${path}: ok without its secrets (gateway "candor", 1 listener(s), 1 route(s), 1 upstream(s))\n` +
      'serve will need:\n' +
      '  environment variable CHECK_TEST_PROXY_CIDR (trust_forwarded_from[0]): not set here\n' +
      '  environment variable CHECK_TEST_REDIS_URL (store.redis.url): not set here\n',
  );
  const bad = await run(['check', '--without-secrets', path], {
    ...env,
    CHECK_TEST_REDIS_URL: 'http://10.0.0.9',
  });
  assert.equal(bad.code, 78);
  assert.match(
    bad.stderr,
    /store\.redis\.url: expected a redis:\/\/ or rediss:\/\/ URL, got "\$\{CHECK_TEST_REDIS_URL\}"/,
  );
});

// An OTLP endpoint needs its traces path, a JWKS URL a port the Fetch standard allows: the http
// stand-in (port 1, no path) fits neither, so both were refused, `got ""`.
test('check --without-secrets passes an OTLP endpoint and a JWKS URL a variable gives whole, and lists them', async () => {
  const path = file(
    'ci-otlp-jwks.yaml',
    `listen: [{ address: 127.0.0.1:8080 }]
routes:
  - upstream: app
    auth:
      jwt: { jwks_url: "\${CHECK_TEST_JWKS_URL}", issuer: https://idp.example.com, audiences: [api] }
upstreams:
  app: { targets: [{ url: "http://127.0.0.1:9" }] }
tracing:
  otlp_endpoint: "\${CHECK_TEST_OTLP_URL}"
`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.CHECK_TEST_JWKS_URL;
  delete env.CHECK_TEST_OTLP_URL;
  const lenient = await run(['check', '--without-secrets', path], env);
  assert.equal(lenient.code, 0, lenient.stderr);
  assert.equal(lenient.stderr, '');
  assert.equal(
    lenient.stdout,
    `${path}: ok without its secrets (gateway "candor", 1 listener(s), 1 route(s), 1 upstream(s))\n` +
      'serve will need:\n' +
      '  environment variable CHECK_TEST_JWKS_URL (routes[0].auth.jwt.jwks_url): not set here\n' +
      '  environment variable CHECK_TEST_OTLP_URL (tracing.otlp_endpoint): not set here\n',
  );
});

// The docs' own example failed its CI check: with API_TOKEN unset, "Bearer ${API_TOKEN}" read as
// "Bearer ", which a header value may not end with, so a CI job had to set a dummy token.
test('check --without-secrets passes a header value that holds a token not set here, and still checks it when it is set or without the flag', async () => {
  const path = file(
    'ci-bearer.yaml',
    `listen: [{ address: 127.0.0.1:8080 }]
routes:
  - upstream: app
    request_headers: { set: { Authorization: "Bearer \${CHECK_TEST_API_TOKEN}" } }
upstreams:
  app: { targets: [{ url: "http://127.0.0.1:9" }] }
`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.CHECK_TEST_API_TOKEN;
  const lenient = await run(['check', '--without-secrets', path], env);
  assert.equal(lenient.code, 0, lenient.stderr);
  assert.equal(lenient.stderr, '');
  assert.equal(
    lenient.stdout,
    `${path}: ok without its secrets (gateway "candor", 1 listener(s), 1 route(s), 1 upstream(s))\n` +
      'serve will need:\n' +
      '  environment variable CHECK_TEST_API_TOKEN (routes[0].request_headers.set.Authorization): not set here\n',
  );
  // Without the flag it must be set, as before.
  const strict = await run(['check', path], env);
  assert.equal(strict.code, 78);
  assert.match(strict.stderr, /environment variable CHECK_TEST_API_TOKEN is not set/);
  // Set, its value is checked in full, flag or not: a token ending in a space is refused.
  for (const args of [
    ['check', '--without-secrets', path],
    ['check', path],
  ]) {
    const bad = await run(args, { ...env, CHECK_TEST_API_TOKEN: 'abc def ' });
    assert.equal(bad.code, 78, args.join(' '));
    assert.match(
      bad.stderr,
      /routes\[0\]\.request_headers\.set\.Authorization: expected a header value without whitespace at either end .*got "Bearer \$\{CHECK_TEST_API_TOKEN\}"/,
    );
  }
});

test('check --without-secrets validates all but the secrets that are not there and lists what serve will need; without it an absent secret is still an error (issue 32, item 6)', async () => {
  const { localhost } = testCertificates();
  const missingKey = join(dir, 'ci-absent.key');
  const tokenVariable = 'CANDOR_CHECK_TEST_TOKEN';
  const secretive = (extra = '') => `name: ci-edge
listen:
  - address: 127.0.0.1:8443
    tls: { cert: ${localhost.certPath}, key: ${missingKey} }
admin: { listen: "127.0.0.1:9901", token_env: ${tokenVariable} }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: \${CHECK_TEST_UPSTREAM}
      - url: http://127.0.0.1:\${CHECK_TEST_PORT:-10}
${extra}`;
  const path = file('ci.yaml', secretive());
  // The upstream's address is in the environment, as CI has it; the port has a default: not needed.
  const env: NodeJS.ProcessEnv = { ...process.env, CHECK_TEST_UPSTREAM: 'http://127.0.0.1:9' };
  delete env[tokenVariable];
  delete env.CHECK_TEST_PORT;

  // Today's strictness stays without the flag: the same file is refused for its secrets.
  const strict = await run(['check', path], env);
  assert.equal(strict.code, 78);
  assert.match(
    strict.stderr,
    new RegExp(`admin\\.token_env: the environment variable ${tokenVariable} is not set`),
  );
  assert.match(strict.stderr, /listen\[0\]\.tls\.key: cannot read /);

  const lenient = await run(['check', '--without-secrets', path], env);
  assert.equal(lenient.code, 0, lenient.stderr);
  assert.equal(
    lenient.stdout,
    `${path}: ok without its secrets (gateway "ci-edge", 1 listener(s), 1 route(s), 1 upstream(s))\n` +
      'serve will need:\n' +
      '  environment variable CHECK_TEST_UPSTREAM (upstreams.app.targets[0].url): set here\n' +
      `  file ${missingKey} (listen[0].tls.key): not here\n` +
      `  environment variable ${tokenVariable} (admin.token_env): not set here\n`,
  );

  // Everything else is still checked: a bad field fails, and only it is named.
  const broken = await run(
    ['check', '--without-secrets', file('ci-broken.yaml', secretive('    timeouts: { connect: fast }\n'))],
    env,
  );
  assert.equal(broken.code, 78);
  assert.match(broken.stderr, /upstreams\.app\.timeouts\.connect: expected a duration/);
  assert.doesNotMatch(broken.stderr, /token_env|tls\.key/);

  // A secret that is there is checked in full: a short token is an error, flag or not.
  const short = await run(['check', '--without-secrets', path], { ...env, [tokenVariable]: 'short' });
  assert.equal(short.code, 78);
  assert.match(short.stderr, /admin\.token_env: the admin token must be at least 16 characters, got 5/);

  // And a key that is there must be the certificate's.
  const wrongKey = file(
    'ci-wrong-key.yaml',
    secretive().replace(`key: ${missingKey}`, `key: ${testCertificates().wrongHost.keyPath}`),
  );
  const mismatch = await run(['check', '--without-secrets', wrongKey], env);
  assert.equal(mismatch.code, 78);
  assert.match(mismatch.stderr, /listen\[0\]\.tls\.key: cannot use this key with /);
});

test('serve with an invalid config exits 78 before listening', async () => {
  const result = await run(['serve', '--config', file('bad-serve.yaml', 'name: x\n')]);
  assert.equal(result.code, 78);
  assert.match(result.stderr, /listen/);
});

test('serve with a port in use exits 69 and says why', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const result = await run(['serve', '--config', file('busy.yaml', valid(port, 'http://127.0.0.1:9'))]);
    assert.equal(result.code, 69);
    assert.match(result.stderr, /could not start: .*EADDRINUSE/);
  } finally {
    blocker.close();
  }
});

test('serve proxies, logs one JSON line per request, and exits 0 on SIGTERM', async () => {
  const upstream = await startEcho();
  const child: ChildProcess = killAtExit(
    spawn(process.execPath, [BIN, 'serve', '--config', file('serve.yaml', valid(0, upstream.url))], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  try {
    let stdout = '';
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout?.on('data', (chunk) => {
        stdout += chunk;
        const m = /"address":"127\.0\.0\.1:(\d+)"/.exec(stdout);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stdout}`)));
    });
    const res = await request(`http://127.0.0.1:${port}`, {
      path: '/hello',
      headers: { 'x-request-id': 'cli-1' },
    });
    assert.equal(res.status, 200);
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    assert.equal(code, 0);
    const line = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .find((l) => l.client_req_id === 'cli-1');
    assert.equal(line.msg, 'request');
    assert.equal(line.status, 200);
    assert.equal(line.path, '/hello');
    assert.equal(line.gateway, 'cli-edge');
  } finally {
    child.kill('SIGKILL');
    await upstream.close();
  }
});

test('serve runs its worker under a primary, with the small V8 young generation and no background optimizing compiles', async () => {
  const upstream = await startEcho();
  const child: ChildProcess = killAtExit(
    spawn(
      process.execPath,
      [BIN, 'serve', '--workers', '1', '--config', file('serve-worker.yaml', valid(0, upstream.url))],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  try {
    let stdout = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk) => {
        stdout += chunk;
        if (/"address":"127\.0\.0\.1:\d+"/.test(stdout)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stdout}`)));
    });
    const workers = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/);
    assert.equal(workers.length, 1, 'one worker process under the primary');
    const argv = readFileSync(`/proc/${workers[0]}/cmdline`, 'utf8').split('\0');
    assert.ok(argv.includes('--max-semi-space-size=16'), `worker argv: ${argv.join(' ')}`);
    assert.ok(argv.includes('--no-allocation-site-pretenuring'), `worker argv: ${argv.join(' ')}`);
    assert.ok(argv.includes('--no-concurrent-recompilation'), `worker argv: ${argv.join(' ')}`);
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    assert.equal(code, 0, 'the primary drains its worker and exits 0');
  } finally {
    child.kill('SIGKILL');
    await upstream.close();
  }
});

test('SIGHUP reloads the file instead of killing the gateway; an invalid file is logged and changes nothing', async () => {
  const upstream = await startEcho();
  const path = file('hup.yaml', valid(0, upstream.url));
  const serve = await startServe(path, 1);
  try {
    const base = `http://127.0.0.1:${serve.port}`;
    assert.equal((await request(base, { path: '/v2/x' })).status, 200);
    writeFileSync(path, valid(0, upstream.url).replace('match: { path: / }', 'match: { path: /v2 }'));
    serve.child.kill('SIGHUP');
    await serve.waitForLines('config reloaded', 1);
    assert.equal(serve.child.exitCode, null, 'still running');
    assert.equal((await request(base, { path: '/other' })).status, 404, 'the new routes apply');
    assert.equal((await request(base, { path: '/v2/x' })).status, 200);
    writeFileSync(path, 'listen: nope\n');
    serve.child.kill('SIGHUP');
    await serve.waitForLines('reload refused: the config is invalid; the running config stays', 1);
    const refused = serve.lines.find(
      (l) => l.msg === 'reload refused: the config is invalid; the running config stays',
    );
    assert.deepEqual(
      ((refused?.problems ?? []) as { file: string; line: number; path: string }[]).map((p) => [
        p.file,
        p.line,
        p.path,
      ]),
      [
        // No upstreams is no problem of its own: a gateway whose routes all redirect needs none.
        [path, 1, 'routes'],
        [path, 1, 'listen'],
      ],
    );
    assert.equal((await request(base, { path: '/v2/x' })).status, 200, 'still serving the last good config');
    assert.equal(await serve.stop(), 0);
  } finally {
    serve.child.kill('SIGKILL');
    await upstream.close();
  }
});

test('check names a route that a host route takes requests from as a warning on stderr, and exits 0', async () => {
  const path = file(
    'shadowed.yaml',
    `name: cli-edge
listen:
  - address: 127.0.0.1:8080
routes:
  - match: { host: www.example.com }
    upstream: app
  - match: { path: /billing }
    upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:9
`,
  );
  const result = await run(['check', path]);
  assert.equal(result.code, 0);
  assert.equal(
    result.stderr,
    `${path}:7:12  routes[1].match: warning: routes[0] (www.example.com/) is tried first (an exact host before a wildcard or any host, whatever the path), so this route gets none of the requests that also meet its conditions\n`,
  );
  assert.match(result.stdout, /: ok \(gateway "cli-edge"/);
});

test('a command given two config files refuses with 64 instead of checking, reloading or serving one of them', async () => {
  const ok = file('one.yaml', valid(8, 'http://127.0.0.1:9'));
  const missing = join(dir, 'missing.yaml');
  for (const [args, said] of [
    [['check', ok, missing], /candor check: checks one config file/],
    [['check', ok, '--config', missing], /candor check: checks one config file/],
    [['reload', '--config', ok, missing], /candor reload: reloads the one file the gateway runs/],
    [['serve', '--demo', '--config', ok], /serve runs --config FILE or --demo, not both/],
    // parseArgs keeps an option's last value: the first file was left unread, the last reported on.
    [['check', '--config', missing, '--config', ok], /--config given twice/],
    [['check', '-c', missing, `--config=${ok}`], /--config given twice/],
    [['reload', '--config', missing, '--config', ok], /--config given twice/],
    [['purge', '--config', missing, '--config', ok], /--config given twice/],
    [['serve', '--config', missing, '--config', ok], /--config given twice/],
    [['serve', '--config', ok, '--workers', '3', '--workers', '1'], /--workers given twice \("3", "1"\)/],
    [
      ['serve', '--config', ok, '--pid-file', join(dir, 'a.pid'), '--pid-file', join(dir, 'b.pid')],
      /--pid-file given twice/,
    ],
  ] as const) {
    const result = await run([...args]);
    assert.equal(result.code, 64, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
    assert.match(result.stderr, said);
    assert.equal(result.stdout, '', `${args.join(' ')} reports on no file`);
  }
});

// `--config "$CANDOR_CONFIG"` with the variable unset: the empty path was read as the working
// directory and told as "cannot read config file /etc/candor: no such file", a folder that is there.
test('an empty config path is a usage error saying so, exit 64, never a folder said to be missing', async () => {
  for (const args of [
    ['check', ''],
    ['check', '--config', ''],
    ['serve', '--config', ''],
    ['reload', '--config', ''],
    ['purge', '--config', ''],
    ['config', 'history', '--config', ''],
  ]) {
    const result = await run(args);
    assert.equal(result.code, 64, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
    const file = args[0] === 'config' ? 'bootstrap file' : 'config file';
    assert.equal(
      result.stderr,
      `candor: the ${file}'s path is empty (an unset variable in --config "$VAR"?)\nRun "candor --help" for usage.\n`,
      args.join(' '),
    );
    assert.equal(result.stdout, '');
  }
});

test('explain given a file it cannot read names it and says why, exit 64, never an errno line without the name', {
  skip: process.platform !== 'linux',
}, async () => {
  const log = file('access.log', '');
  for (const [args, said] of [
    [['explain', dir], `candor: cannot read ${dir}: is a directory\n`],
    [['explain', join(dir, 'gone.log')], `candor: cannot read ${join(dir, 'gone.log')}: no such file\n`],
    [['explain', '--deploys', dir, log], `candor: cannot read ${dir}: is a directory\n`],
    [
      ['explain', '--nginx-conf', join(dir, 'gone.conf'), log],
      `candor: cannot read ${join(dir, 'gone.conf')}: no such file\n`,
    ],
    // A device would be read without end (for --nginx-conf, a stack trace once memory ran out).
    [['explain', '/dev/zero'], 'candor: cannot read /dev/zero: not a file\n'],
    [['explain', '--nginx-conf', '/dev/zero', log], 'candor: cannot read /dev/zero: not a file\n'],
  ] as const) {
    const result = await run([...args]);
    assert.equal(result.code, 64, args.join(' '));
    assert.equal(result.stderr, `${said}Run "candor explain --help" for usage.\n`);
  }
});
