/**
 * DNS discovery runs once per gateway: under `candor serve --workers 2` the primary asks the
 * DNS server and both workers take its answers (one "discovered targets changed" line per
 * change, not one per worker); traffic follows a change on every worker; the admin API's
 * /status shows the current set and when it last changed. The primary's health checks probe
 * the discovered targets.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { request } from '../helpers/http-client.ts';
import { adminCall, type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { freePort, waitUntil } from '../helpers/wait.ts';

const dir = tempDir('candor-discovery-once-');
const TOKEN = 'discovery-once-admin-token';
const servers: http.Server[] = [];
const probes: Record<string, number> = { '127.0.0.1': 0, '127.0.0.2': 0, '127.0.0.3': 0 };
let dns: DnsServer;
let serve: ServeProcess;
let port = 0;
let path = '';
let tokenFile = '';

async function listen(host: string, at: number): Promise<number> {
  const server = http.createServer((req, res) => {
    if (req.url === '/health') probes[host]++;
    res.end(host);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(at, host, resolve));
  return (server.address() as AddressInfo).port;
}

before(async () => {
  port = await listen('127.0.0.1', 0);
  await listen('127.0.0.2', port);
  dns = await startDnsServer();
  dns.set('app.test', [{ type: 'A', address: '127.0.0.1', ttl: 1 }]);
  tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
  path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: discovery-once
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${await freePort()}", token_file: ${tokenFile} }
routes:
  - upstream: app
upstreams:
  app:
    discovery: { dns: app.test, port: ${port}, resolvers: [${dns.address}], min_ttl: 100ms }
    health_check: { path: /health, interval: 200ms }
`,
  );
  serve = await startServe(path, 2, { admin: true });
});

after(async () => {
  // Whatever before() got to start is stopped, even when it failed half-way.
  await serve?.stop();
  await dns?.close();
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

/** Fresh connections: the cluster hands them to both workers. */
const answeredBy = async (count: number) =>
  new Set(
    (await Promise.all(Array.from({ length: count }, () => request(`http://127.0.0.1:${serve.port}`)))).map(
      (r) => r.text,
    ),
  );

test('the primary asks, both workers follow; one log line per change; /status shows the set', async () => {
  await serve.waitForLines('discovered targets changed', 1);
  // The primary says the change before its workers have it: until each has, it answers 503
  // (no target yet), so the first set is polled for as the change is.
  let seen = new Set<string>();
  for (let i = 0; i < 50 && !(seen.size === 1 && seen.has('127.0.0.1')); i++) seen = await answeredBy(8);
  assert.deepEqual(seen, new Set(['127.0.0.1']));
  dns.set('app.test', [{ type: 'A', address: '127.0.0.2', ttl: 1 }]);
  await serve.waitForLines('discovered targets changed', 2);
  // Each worker applies the primary's message on its own turn: poll until every answer follows.
  seen = new Set<string>();
  for (let i = 0; i < 50 && !(seen.size === 1 && seen.has('127.0.0.2')); i++) seen = await answeredBy(8);
  assert.deepEqual(seen, new Set(['127.0.0.2']));
  assert.equal(serve.lines.filter((l) => l.msg === 'discovered targets changed').length, 2);
  const { status, body } = await adminCall(serve.adminPort ?? 0, 'GET', '/status', { token: TOKEN });
  assert.equal(status, 200);
  const app = (body.upstreams as Record<string, Record<string, unknown>>).app;
  const discovery = app.discovery as Record<string, unknown>;
  assert.equal(discovery.dns, 'app.test');
  assert.deepEqual(discovery.targets, [`http://127.0.0.2:${port}`]);
  assert.match(String(discovery.changed_at), /^\d{4}-/);
  assert.deepEqual(
    (app.targets as { url: string }[]).map((t) => t.url),
    [`http://127.0.0.2:${port}`],
  );
  // The primary's health checks moved with the set.
  const before = probes['127.0.0.2'];
  await waitUntil('127.0.0.2 probed', () => probes['127.0.0.2'] > before, 5000);
});

test('each DNS answer that moved targets is one event of the deploy timeline: which joined and which left (issue 36)', async () => {
  await serve.waitForLines('discovered targets changed', 2);
  const { status, body } = await adminCall(serve.adminPort ?? 0, 'GET', '/events', { token: TOKEN });
  assert.equal(status, 200);
  const discoveries = (body.events as { kind: string; summary: string }[]).filter(
    (e) => e.kind === 'discovery',
  );
  const one = `http://127.0.0.1:${port}`;
  const two = `http://127.0.0.2:${port}`;
  assert.deepEqual(
    discoveries.map(({ kind, upstream, joined, left }: Record<string, unknown>) => ({
      kind,
      upstream,
      joined,
      left,
    })),
    [
      { kind: 'discovery', upstream: 'app', joined: [one], left: [] },
      { kind: 'discovery', upstream: 'app', joined: [two], left: [one] },
    ],
  );
  assert.equal(discoveries[1].summary, `DNS answer (upstream app: target ${two} joined, target ${one} left)`);
  // Recorded once, by the primary that asked: one event line per change, not one per worker.
  const lines = serve.lines.filter(
    (l) => l.msg === 'event' && (l.event as { kind: string }).kind === 'discovery',
  );
  assert.equal(lines.length, 2);
});

test('a discovered target is drained through the admin API as a written one is: every worker stops sending it requests, and a reload keeps it drained', async () => {
  dns.set('app.test', [
    { type: 'A', address: '127.0.0.1', ttl: 1 },
    { type: 'A', address: '127.0.0.2', ttl: 1 },
  ]);
  await serve.waitForLines('discovered targets changed', 3);
  let seen = new Set<string>();
  for (let i = 0; i < 50 && seen.size < 2; i++) seen = await answeredBy(8);
  assert.deepEqual(seen, new Set(['127.0.0.1', '127.0.0.2']));
  const admin = (method: string, path: string, body?: unknown) =>
    adminCall(serve.adminPort ?? 0, method, path, { token: TOKEN, body });
  // It was refused as a target the upstream did not have: the check read the file's empty list.
  const drained = await admin('POST', '/targets/drain', {
    upstream: 'app',
    target: `http://127.0.0.2:${port}`,
  });
  assert.equal(drained.status, 200, JSON.stringify(drained.body));
  for (let i = 0; i < 3; i++) assert.deepEqual(await answeredBy(8), new Set(['127.0.0.1']));
  // One DNS does not give is named as such.
  const absent = await admin('POST', '/targets/drain', {
    upstream: 'app',
    target: `http://127.0.0.3:${port}`,
  });
  assert.equal(absent.status, 400);
  assert.equal(
    (absent.body as { detail: string }).detail,
    `target: upstream "app" has no target http://127.0.0.3:${port} in the last DNS answer for app.test (http://127.0.0.1:${port}, http://127.0.0.2:${port})`,
  );
  const reloaded = await admin('POST', '/reload');
  assert.equal(reloaded.status, 200);
  assert.deepEqual((reloaded.body.outcome as { dropped_changes: string[] }).dropped_changes, []);
  for (let i = 0; i < 3; i++) assert.deepEqual(await answeredBy(8), new Set(['127.0.0.1']));
});

test('discovery taken off by a reload and given back by another: every worker waits for its first answer (503) and the primary probes none of the set found before', async () => {
  // A resolver that takes every question and answers none: the first question stays out.
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  try {
    const admin = (method: string, at: string) =>
      adminCall(serve.adminPort ?? 0, method, at, { token: TOKEN });
    const config = (app: string) =>
      readFileSync(path, 'utf8').replace(/ {2}app:\n[\s\S]*$/, `  app:\n${app}`);
    writeFileSync(path, config(`    targets: [{ url: "http://127.0.0.1:${port}" }]\n`));
    assert.equal((await admin('POST', '/reload')).status, 200);
    assert.deepEqual(await answeredBy(8), new Set(['127.0.0.1']));
    // Its health checks too: the primary probes no target until the first answer (another
    // upstream's probes are what is waited for).
    await listen('127.0.0.3', port);
    writeFileSync(
      path,
      config(
        `    discovery: { dns: app.test, port: ${port}, resolvers: ["127.0.0.1:${silent.address().port}"] }\n    timeouts: { connect: 10s }\n    health_check: { path: /health, interval: 100ms }\n  other:\n    targets: [{ url: "http://127.0.0.3:${port}" }]\n    health_check: { path: /health, interval: 100ms }\n`,
      ),
    );
    assert.equal((await admin('POST', '/reload')).status, 200);
    const probed = { ...probes };
    await waitUntil('other probed three times', () => probes['127.0.0.3'] >= probed['127.0.0.3'] + 3, 5000);
    assert.deepEqual(
      [probes['127.0.0.1'] - probed['127.0.0.1'], probes['127.0.0.2'] - probed['127.0.0.2']],
      [0, 0],
    );
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => request(`http://127.0.0.1:${serve.port}`)),
    );
    assert.deepEqual(
      answers.map((r) => r.status),
      answers.map(() => 503),
      answers.map((r) => r.text).join(),
    );
    const { body } = await admin('GET', '/status');
    const app = (body.upstreams as Record<string, Record<string, unknown>>).app;
    assert.deepEqual(app.targets, []);
  } finally {
    silent.close();
  }
});
