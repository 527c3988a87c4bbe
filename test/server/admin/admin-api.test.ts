/**
 * The admin API of a real `candor serve --workers 2`: the token, every endpoint's exact
 * answer, a 400 naming the field, runtime changes applied in both workers, kept across a
 * reload, dropped with a log line when their target goes, and replayed to a restarted worker.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'admin-test-token-abcdefghijkl';
const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const dir = tempDir('candor-admin-');
const path = join(dir, 'candor.yaml');
const tokenFile = join(dir, 'token');
let blue: Fault;
let green: Fault;
let serve: ServeProcess;
let adminPort: number;
let base: string;

const configText = (port: number, targets: string[]) => `name: admin-edge
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${port}", token_file: ${tokenFile}, probes_path: /_candor, allowed_hosts: [admin.example.internal] }
routes:
  - name: app
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
${targets.map((t) => `      - url: ${t}\n`).join('')}`;

const call = (method: string, path: string, body?: unknown) =>
  adminCall(adminPort, method, path, { token: TOKEN, body });
const received = () => ({ blue: blue.received.length, green: green.received.length });

before(async () => {
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  blue = await startEcho();
  green = await startEcho();
  adminPort = await freePort();
  writeFileSync(path, configText(adminPort, [blue.url, green.url]));
  serve = await startServe(path, 2, { admin: true });
  base = `http://127.0.0.1:${serve.port}`;
});

after(() => closeAll(serve, blue, green));

test('without the token or with a wrong one: 401 problem+json, logged with who, the token never in the log', async () => {
  const missing = await adminCall(adminPort, 'GET', '/status');
  assert.equal(missing.status, 401);
  assert.equal(missing.type, 'application/problem+json');
  assert.deepEqual(missing.body, {
    title: 'Unauthorized',
    status: 401,
    detail: 'this call needs the admin token: Authorization: Bearer <token>',
  });
  const wrong = await adminCall(adminPort, 'POST', '/reload', { token: `${TOKEN}x` });
  assert.equal(wrong.status, 401);
  assert.deepEqual(wrong.body, {
    title: 'Unauthorized',
    status: 401,
    detail: 'the token is not the admin token',
  });
  await serve.waitForLines('admin unauthorized', 2);
  const logged = serve.lines.filter((l) => l.msg === 'admin unauthorized');
  assert.deepEqual(
    logged.map((l) => [l.method, l.path, l.reason, l.level]),
    [
      ['GET', '/status', 'no token', 'warn'],
      ['POST', '/reload', 'wrong token', 'warn'],
    ],
  );
  assert.match(String(logged[0].who), /^127\.0\.0\.1:\d+$/);
  assert.equal((await call('GET', '/status')).status, 200);
  const everything = JSON.stringify(serve.lines) + serve.stderr();
  assert.ok(!everything.includes(TOKEN), 'the token is nowhere in the log');
});

test('GET /live and /ready need no token, on the admin listener and under probes_path on the main one', async () => {
  for (const res of [
    await adminCall(adminPort, 'GET', '/live'),
    await adminCall(adminPort, 'GET', '/ready'),
  ]) {
    assert.equal(res.status, 200);
    assert.equal(res.type, 'application/json');
  }
  assert.deepEqual((await adminCall(adminPort, 'GET', '/ready')).body, { status: 'ready' });
  const live = await request(base, { path: '/_candor/live' });
  assert.equal(live.status, 200);
  assert.equal(live.text, '{"status":"live"}\n');
  assert.equal((await request(base, { path: '/_candor/ready' })).text, '{"status":"ready"}\n');
  assert.equal(blue.received.length + green.received.length, 0, 'probes never reach an upstream');
});

test('GET /status: every upstream and target with its state, merged from both workers; GET /config', async () => {
  await request(base, { path: '/warm' });
  const { status, body } = await call('GET', '/status');
  assert.equal(status, 200);
  assert.deepEqual(Object.keys(body), [
    'gateway',
    'config',
    'last_reload',
    'runtime_changes',
    'workers',
    'upstreams',
    'routes',
    'store',
    'auth_hops',
    'plugins',
    'session_stores',
    'workers_restarting',
  ]);
  assert.deepEqual(body.plugins, {}, 'no plugins: an empty table');
  assert.deepEqual(body.session_stores, [], 'no route keeps OIDC sessions in Redis: no session store');
  assert.equal(body.store, null, 'no store.redis: each gateway keeps its own rate limits');
  assert.deepEqual(body.auth_hops, {}, 'no route authenticates: no auth hop');
  assert.equal(body.gateway, 'admin-edge');
  const config = body.config as Record<string, unknown>;
  assert.equal(config.source, path);
  assert.match(String(config.hash), /^sha256:[0-9a-f]{16}$/);
  const workers = body.workers as Record<string, unknown>[];
  assert.equal(workers.length, 2);
  assert.deepEqual(Object.keys(workers[0]), ['id', 'pid', 'answered', 'config_hash', 'draining']);
  assert.ok(
    workers.every((w) => w.answered === true && w.config_hash === config.hash && w.draining === false),
  );
  const app = (body.upstreams as Record<string, Record<string, unknown>>).app;
  assert.deepEqual(Object.keys(app), [
    'circuit',
    'panic',
    'in_flight',
    'pending',
    'retry_budget',
    'targets',
    'discovery',
  ]);
  assert.equal(app.discovery, null, 'targets written, not found by DNS');
  assert.deepEqual(app.circuit, { state: 'closed', open_until: null });
  assert.equal(app.panic, false);
  const targets = app.targets as Record<string, unknown>[];
  assert.deepEqual(
    targets.map((t) => t.url),
    [blue.url, green.url],
  );
  assert.deepEqual(Object.keys(targets[0]), [
    'url',
    'origin',
    'weight',
    'config_weight',
    'priority',
    'admin',
    'health',
    'last_check',
    'circuit',
    'ejected',
    'ejected_until',
    'ejections',
    'in_flight',
    'last_failure',
    'pool',
    'workers_ejecting',
  ]);
  assert.deepEqual(
    { ...targets[0], pool: undefined },
    {
      url: blue.url,
      origin: blue.url,
      weight: 1,
      config_weight: 1,
      priority: 0,
      admin: 'enabled',
      health: 'unchecked',
      last_check: null,
      circuit: { state: 'closed', open_until: null },
      ejected: false,
      ejected_until: null,
      ejections: 0,
      in_flight: 0,
      last_failure: null,
      pool: undefined,
      workers_ejecting: 0,
    },
  );
  assert.deepEqual(body.routes, {
    app: { upstream: 'app', maintenance: { active: false, source: null }, cache: null },
  });
  const shown = await call('GET', '/config');
  assert.equal(shown.status, 200);
  const running = shown.body.config as Record<string, unknown>;
  assert.equal(running.name, 'admin-edge');
  assert.deepEqual(running.admin, {
    address: `127.0.0.1:${adminPort}`,
    host: '127.0.0.1',
    port: adminPort,
    token: { file: tokenFile },
    probesPath: '/_candor',
    allowedHosts: ['admin.example.internal'],
  });
  assert.ok(!JSON.stringify(shown.body).includes(TOKEN));
});

test("a Host that is not the admin listener's own name is a 421 before anything else (DNS rebinding)", async () => {
  const rebound = `evil.example:${adminPort}`;
  for (const [method, path, token] of [
    ['GET', '/live', undefined],
    ['GET', '/status', undefined],
    ['GET', '/status', TOKEN],
    ['POST', '/reload', TOKEN],
  ] as const) {
    const answer = await adminCall(adminPort, method, path, { token, host: rebound });
    assert.equal(answer.status, 421, `${method} ${path}`);
    assert.equal(answer.type, 'application/problem+json');
    assert.deepEqual(answer.body, {
      title: 'Misdirected request',
      status: 421,
      detail: `the admin API answers for 127.0.0.1, localhost, [::1], admin.example.internal, not for Host "${rebound}": add it to admin.allowed_hosts if it is this gateway's name`,
    });
  }
  await serve.waitForLines('admin misdirected', 4);
  const logged = serve.lines.find((l) => l.msg === 'admin misdirected');
  assert.equal(logged?.host, rebound);
  assert.equal(logged?.level, 'warn');
  // Its own names, with or without the port, and the names allowed_hosts adds.
  for (const host of [
    `127.0.0.1:${adminPort}`,
    `localhost:${adminPort}`,
    'LOCALHOST',
    'admin.example.internal',
  ]) {
    assert.equal((await adminCall(adminPort, 'GET', '/status', { token: TOKEN, host })).status, 200, host);
  }
  assert.equal(
    (await adminCall(adminPort, 'GET', '/status', { token: TOKEN, host: 'admin.example.internal.evil' }))
      .status,
    421,
  );
});

test('a request target no URL can be made of is a 400, with or without the token, and the gateway lives on', async () => {
  // `http://x:99999/…` is an authority with a port out of range; `http://[` an unclosed IPv6 literal.
  for (const [target, token] of [
    ['http://x:99999/status', undefined],
    ['http://x:99999/status', TOKEN],
    ['http://[', undefined],
    ['http://x:99999/status?api_key=s3cret&x=1', undefined],
  ] as const) {
    const answer = await adminCall(adminPort, 'GET', target, { token });
    assert.equal(answer.status, 400, target);
    assert.equal(answer.type, 'application/problem+json');
    assert.equal(answer.body.title, 'Bad request');
  }
  // Logged with its target, a credential's value in its query as the access line writes it.
  await serve.waitForLines('admin bad request target', 4);
  assert.deepEqual(
    serve.lines.filter((l) => l.msg === 'admin bad request target').map((l) => l.target),
    ['http://x:99999/status', 'http://x:99999/status', 'http://[', 'http://x:99999/status?api_key=***&x=1'],
  );
  assert.equal((await adminCall(adminPort, 'GET', '/status', { token: TOKEN })).status, 200);
  assert.equal((await request(`${base}/`)).status, 200);
});

test('bad input is a 400 problem+json naming the field', async () => {
  const cases: [string, string, unknown, string][] = [
    ['POST', '/targets/drain', undefined, '(body)'],
    ['POST', '/targets/drain', { target: blue.url }, 'upstream'],
    ['POST', '/targets/drain', { upstream: 'nope', target: blue.url }, 'upstream'],
    ['POST', '/targets/disable', { upstream: 'app', target: 'http://127.0.0.1:1' }, 'target'],
    [
      'PUT',
      '/targets/weights',
      { upstream: 'app', weights: [{ target: blue.url, weight: 1001 }] },
      'weights[0].weight',
    ],
    [
      'PUT',
      '/targets/weights',
      { upstream: 'app', weights: [{ target: blue.url, weight: 1 }, { target: 'x' }] },
      'weights[1].weight',
    ],
    ['PUT', '/targets/weights', { upstream: 'app' }, 'weights'],
    ['PUT', '/routes/maintenance', { route: 'app' }, 'enabled'],
    ['PUT', '/routes/maintenance', { route: 'nope', enabled: true }, 'route'],
  ];
  for (const [method, path, body, field] of cases) {
    const res = await call(method, path, body);
    assert.equal(res.status, 400, `${method} ${path} ${JSON.stringify(body)}`);
    assert.equal(res.type, 'application/problem+json');
    assert.equal(
      res.body.field,
      field,
      `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`,
    );
    assert.equal(res.body.title, 'Bad request');
    assert.equal(res.body.status, 400);
  }
  const notJson = await adminCall(adminPort, 'POST', '/targets/drain', { token: TOKEN, rawBody: '{nope' });
  assert.equal(notJson.status, 400);
  assert.equal(notJson.body.field, '(body)');
  assert.equal((await call('GET', '/nowhere')).status, 404);
  assert.equal((await call('GET', '/reload')).status, 405);
});

test('a target disabled through the admin API gets no request from either worker, and stays disabled across a reload', async () => {
  const res = await call('POST', '/targets/disable', { upstream: 'app', target: green.url });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, {
    applied: { kind: 'target_state', upstream: 'app', target: green.url, state: 'disabled' },
    workers: { confirmed: [1, 2], failed: [] },
  });
  await serve.waitForLines('admin change', 1);
  const logged = serve.lines.find((l) => l.msg === 'admin change');
  assert.match(String(logged?.who), /^127\.0\.0\.1:\d+$/);
  assert.ok(logged?.time, 'when');
  const before = received();
  // Fresh connections: Node's cluster hands them to both workers in turn.
  for (let i = 0; i < 20; i++) assert.equal((await request(base, { path: `/d${i}` })).status, 200);
  assert.equal(received().green, before.green, 'the disabled target received nothing');
  assert.equal(received().blue, before.blue + 20);
  const target = (
    (await call('GET', '/status')).body.upstreams as Record<string, { targets: { admin: string }[] }>
  ).app.targets[1];
  assert.equal(target.admin, 'disabled');

  const reloaded = await call('POST', '/reload');
  assert.equal(reloaded.status, 200);
  for (let i = 0; i < 20; i++) assert.equal((await request(base, { path: `/r${i}` })).status, 200);
  assert.equal(received().green, before.green, 'still disabled after a reload that names the target');

  await call('POST', '/targets/enable', { upstream: 'app', target: green.url });
  for (let i = 0; i < 20; i++) await request(base, { path: `/e${i}` });
  assert.ok(received().green > before.green, 'enabled again');
});

test('blue/green in one call, a canary by weight, route maintenance on and off', async () => {
  const switched = await call('PUT', '/targets/weights', {
    upstream: 'app',
    weights: [
      { target: blue.url, weight: 0 },
      { target: green.url, weight: 1 },
    ],
  });
  assert.equal(switched.status, 200);
  const before = received();
  for (let i = 0; i < 20; i++) assert.equal((await request(base, { path: `/g${i}` })).status, 200);
  assert.deepEqual(received(), { blue: before.blue, green: before.green + 20 });
  const targets = (
    (await call('GET', '/status')).body.upstreams as Record<
      string,
      { targets: { weight: number; config_weight: number }[] }
    >
  ).app.targets;
  assert.deepEqual(
    targets.map((t) => [t.weight, t.config_weight]),
    [
      [0, 1],
      [1, 1],
    ],
  );

  const on = await call('PUT', '/routes/maintenance', {
    route: 'app',
    enabled: true,
    message: 'Back at noon.',
    retry_after: 120,
  });
  assert.equal(on.status, 200);
  const down = await request(base, { path: '/m' });
  assert.equal(down.status, 503);
  assert.equal(down.headers['retry-after'], '120');
  assert.match(down.text, /Back at noon\./);
  const routes = (await call('GET', '/status')).body.routes;
  assert.deepEqual(routes, {
    app: { upstream: 'app', maintenance: { active: true, source: 'admin' }, cache: null },
  });
  await call('PUT', '/routes/maintenance', { route: 'app', enabled: false });
  assert.equal((await request(base, { path: '/m' })).status, 200);
  await call('PUT', '/targets/weights', { upstream: 'app', weights: [{ target: blue.url, weight: 1 }] });
});

test('a worker restarted after a crash starts on the running config and the changes in force', async () => {
  await call('POST', '/targets/drain', { upstream: 'app', target: blue.url });
  const status = (await call('GET', '/status')).body;
  const victim = (status.workers as { pid: number }[])[0].pid;
  const listening = serve.lines.filter((l) => l.msg === 'listening').length;
  process.kill(victim, 'SIGKILL');
  await serve.waitForLines('listening', listening + 1, 15_000);
  const before = received();
  for (let i = 0; i < 20; i++) assert.equal((await request(base, { path: `/k${i}` })).status, 200);
  assert.equal(received().blue, before.blue, 'the drained target gets nothing from the new worker either');
  const after = (await call('GET', '/status')).body;
  const workers = after.workers as { pid: number; config_hash: string }[];
  assert.equal(workers.length, 2);
  assert.ok(!workers.some((w) => w.pid === victim));
  assert.equal(workers[0].config_hash, workers[1].config_hash);
});

test('a reload that removes a target drops its runtime change, with a log line', async () => {
  writeFileSync(path, configText(adminPort, [green.url]));
  const res = await call('POST', '/reload');
  assert.equal(res.status, 200);
  assert.deepEqual((res.body.outcome as { dropped_changes: string[] }).dropped_changes, [
    `target ${blue.url} of upstream "app"`,
  ]);
  await serve.waitForLines('runtime change dropped: its target or route left the config', 1);
  const status = (await call('GET', '/status')).body;
  // What remains: green's state and weight, and the route's maintenance set off (it wins over the config's).
  assert.deepEqual(status.runtime_changes, [
    { kind: 'target_state', upstream: 'app', target: green.url, state: 'enabled' },
    { kind: 'weights', upstream: 'app', weights: [{ target: green.url, weight: 1 }] },
    { kind: 'maintenance', route: 'app', enabled: false },
  ]);
  writeFileSync(path, configText(adminPort, [blue.url, green.url]));
});

/** `candor reload --config FILE`, as an operator runs it. */
const runReload = (file: string) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, 'reload', '--config', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });

test('candor reload --config FILE asks the admin API and says which file it read and which workers swapped; a bad file is refused with its problems', async () => {
  const ok = await runReload(path);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(
    ok.stdout.replace(/sha256:[0-9a-f]{16}/, 'HASH').replace(/workers \d+, \d+/, 'workers N, M'),
    `reloaded ${path}: config HASH, workers N, M swapped\n`,
  );
  const hash = /sha256:[0-9a-f]{16}/.exec(ok.stdout)?.[0];
  assert.equal(
    ((await call('GET', '/status')).body.config as { hash: string }).hash,
    hash,
    'the hash of what runs',
  );
  writeFileSync(path, readFileSync(path, 'utf8').replace('name: admin-edge', 'name: "bad name"'));
  const bad = await runReload(path);
  assert.equal(bad.code, 78);
  assert.match(bad.stderr, /candor\.yaml:1:7 +name: expected a name of/);
  assert.match(bad.stderr, /nothing sent: the running config stays/);
  writeFileSync(path, configText(adminPort, [blue.url, green.url]));
});

test('candor reload --config OTHER is refused naming the file the gateway runs, and nothing of OTHER is read; a symlink to the running file is that file (issue 32, item 1)', async () => {
  const other = join(dir, 'other.yaml');
  // Another target list and another log destination: a reload that read it would change both.
  writeFileSync(
    other,
    `${configText(adminPort, [green.url])}log:\n  destination: ${join(dir, 'other.log')}\n`,
  );
  const before = (await call('GET', '/status')).body;
  const refused = await runReload(other);
  assert.equal(refused.code, 64, refused.stderr);
  assert.equal(refused.stdout, '', 'nothing says "reloaded"');
  assert.match(
    refused.stderr,
    new RegExp(
      `^candor: the gateway runs ${path}, not ${other}: a reload reads only the file the gateway runs; nothing was read or changed\n`,
    ),
  );
  assert.match(refused.stderr, new RegExp(`restart the gateway with: candor serve --config ${other}\n$`));
  const after = (await call('GET', '/status')).body;
  assert.deepEqual(after.config, before.config, 'the same file, hash and version run');
  assert.deepEqual(after.last_reload, before.last_reload);
  assert.deepEqual(
    (after.upstreams as { app: { targets: { url: string }[] } }).app.targets.map((t) => t.url),
    [blue.url, green.url],
  );
  await serve.waitForLines('reload refused: the file named is not the one the gateway runs', 1);

  // The admin API itself: a file named is checked before anything is read.
  const conflict = await call('POST', '/reload', { file: other });
  assert.equal(conflict.status, 409);
  assert.deepEqual(conflict.body.reload, {
    result: 'not_running_file',
    running_file: path,
    named_file: other,
  });
  const relative = await call('POST', '/reload', { file: 'candor.yaml' });
  assert.equal(relative.status, 400);
  assert.equal(relative.body.field, 'file');

  const link = join(dir, 'link.yaml');
  symlinkSync(path, link);
  const viaLink = await runReload(link);
  assert.equal(viaLink.code, 0, viaLink.stderr);
  assert.match(viaLink.stdout, new RegExp(`^reloaded ${path}: config sha256:`));
});

test('a reload of the running file that changes log.destination is refused whole, naming the field, and exits 78', async () => {
  writeFileSync(
    path,
    `${configText(adminPort, [green.url])}log:\n  destination: ${join(dir, 'moved.log')}\n`,
  );
  try {
    const before = (await call('GET', '/status')).body;
    const refused = await runReload(path);
    assert.equal(refused.code, 78, refused.stderr);
    assert.equal(refused.stdout, '');
    // File, line and field, as every config error: the line is the new file's `destination:`.
    const line = configText(adminPort, [green.url]).split('\n').length + 1;
    assert.match(
      refused.stderr,
      new RegExp(`${path}:${line}:3 +log\\.destination: cannot change on a reload \\(stdout → `),
    );
    assert.match(
      refused.stderr,
      new RegExp(`reload of ${path} refused: nothing changed, the running config stays\n$`),
    );
    const after = (await call('GET', '/status')).body;
    assert.deepEqual(after.config, before.config);
    // Whole or nothing: the target list, which a reload may change, did not change either.
    assert.deepEqual(
      (after.upstreams as { app: { targets: { url: string }[] } }).app.targets.map((t) => t.url),
      [blue.url, green.url],
    );
    assert.equal((after.last_reload as { result: string }).result, 'invalid');
  } finally {
    writeFileSync(path, configText(adminPort, [blue.url, green.url]));
  }
});

test('a reload adding a listener no worker can open is refused whole, naming it, and exits 78: not "incomplete"', async () => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as net.AddressInfo).port;
  const withListener = configText(adminPort, [green.url]).replace(
    'listen:\n  - address: 127.0.0.1:0\n',
    `listen:\n  - address: 127.0.0.1:0\n  - address: 127.0.0.1:${port}\n`,
  );
  assert.notEqual(withListener, configText(adminPort, [green.url]));
  writeFileSync(path, withListener);
  try {
    const before = (await call('GET', '/status')).body;
    const refused = await runReload(path);
    assert.equal(refused.code, 78, refused.stderr);
    assert.match(
      refused.stderr,
      // The primary's probe (taken by another process) sees it before the workers would.
      new RegExp(
        `${path}:4:5 +listen\\[1\\]\\.address: cannot listen on 127\\.0\\.0\\.1:${port}: address in use`,
      ),
    );
    assert.match(
      refused.stderr,
      new RegExp(`reload of ${path} refused: nothing changed, the running config stays\n$`),
    );
    const after = (await call('GET', '/status')).body;
    assert.deepEqual(after.config, before.config, 'the same hash and version');
    assert.equal((after.last_reload as { result: string }).result, 'invalid');
    assert.deepEqual(
      (after.upstreams as { app: { targets: { url: string }[] } }).app.targets.map((t) => t.url),
      [blue.url, green.url],
      'the rest of the file (one target fewer) was not applied either',
    );
  } finally {
    writeFileSync(path, configText(adminPort, [blue.url, green.url]));
    await new Promise((resolve) => taken.close(resolve));
  }
});

test("a reload's log.level applies to the primary's own lines too (admin requests), not only to the workers'", async () => {
  const logged = () => serve.lines.filter((l) => l.msg === 'admin request' && l.path === '/activity').length;
  const before = logged();
  writeFileSync(path, `${configText(adminPort, [blue.url, green.url])}log:\n  level: warn\n`);
  try {
    assert.equal((await call('POST', '/reload')).status, 200);
    assert.equal((await call('GET', '/activity')).status, 200, 'an info line the primary no longer writes');
  } finally {
    writeFileSync(path, configText(adminPort, [blue.url, green.url]));
  }
  assert.equal((await call('POST', '/reload')).status, 200);
  assert.equal((await call('GET', '/activity')).status, 200, 'written again at info');
  await serve.waitForLines('admin request', 1);
  const deadline = Date.now() + 5_000;
  while (logged() < before + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  // Lines come in order: the second call's is there, so the first's would be too had it been written.
  assert.equal(logged(), before + 1);
});

test('a reload of a 7-deep YAML alias bomb is refused at its line while the gateway keeps serving', async () => {
  const bomb = [
    `${configText(adminPort, [blue.url, green.url])}`,
    'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
  ];
  for (let i = 1; i <= 7; i++)
    bomb.push(
      `l${i}: &l${i} [${Array(9)
        .fill(`*l${i - 1}`)
        .join(', ')}]`,
    );
  writeFileSync(path, `${bomb.join('\n')}\n`);
  try {
    // The count passes its bound in l4's line, at its first *l3.
    const bombLine =
      readFileSync(path, 'utf8')
        .split('\n')
        .findIndex((line) => line.startsWith('l4:')) + 1;
    // Requests go on while the primary reads the file (on a thread of its own, with a deadline).
    const during = Promise.all(
      Array.from({ length: 20 }, (_, i) => request(base, { path: `/during-bomb-${i}` })),
    );
    const reloaded = await call('POST', '/reload');
    assert.equal(reloaded.status, 400, JSON.stringify(reloaded.body));
    assert.match(JSON.stringify(reloaded.body), /more than 1000 aliases to resolve/);
    assert.match(JSON.stringify(reloaded.body), new RegExp(`"line":${bombLine}\\b`));
    assert.deepEqual(new Set((await during).map((r) => r.status)), new Set([200]));
    assert.equal((await request(base, { path: '/after-bomb' })).status, 200, 'the running config stays');
  } finally {
    writeFileSync(path, configText(adminPort, [blue.url, green.url]));
  }
});
