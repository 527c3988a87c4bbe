/**
 * Plugins through `candor serve` (issue 57), on real sockets: the examples of docs/examples/plugins/
 * loaded by a path relative to the config file, each doing its job (a JSON body checked against a
 * schema among them); a plugin's bug a 500 naming it;
 * its dependency's outage that hop's 502/504 naming the upstream; an observer failing open; the
 * plugin's own answer logged as made by it; its counts in /metrics.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { rawUntil, request } from '../../helpers/http-client.ts';
import { type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const EXAMPLES = join(import.meta.dirname, '../../../docs/examples/plugins');

function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part(claims)}.sig`;
}

describe('plugins through candor serve', () => {
  let dir: string;
  let app: Fault;
  let checks: http.Server;
  let slow: http.Server;
  let unhurried: http.Server;
  let serve: ServeProcess;
  let metricsPort: number;
  let down: Fault;

  before(async () => {
    dir = tempDir('candor-plugins-');
    app = await startEcho();
    checks = http.createServer((req, res) => {
      res.writeHead(req.url === '/allow?user=ok' ? 200 : 403).end();
    });
    slow = http.createServer(() => {});
    // Answers after a second: a plugin's late answer (at 400 ms) settles while the request is upstream.
    unhurried = http.createServer((_req, res) => {
      setTimeout(() => res.end('from the app'), 1000);
    });
    await new Promise<void>((r) => unhurried.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => checks.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const portOf = (s: http.Server) => (s.address() as { port: number }).port;
    // A refusing upstream and the metrics port, neither a port the system's listen(0) gives out:
    // one of its picks, closed, can be another test file's server by the time it is used.
    down = await startRefusing();
    metricsPort = await freePort();
    const module = (file: string) => `./${relative(dir, join(EXAMPLES, file))}`;
    await writeFile(
      join(dir, 'bug.mjs'),
      'const never = () => new Response(new ReadableStream({ pull() { return new Promise(() => {}); } }));\n' +
        "export default () => ({ onRequest(r) { if (r.path === '/bug/stream-hang' || r.path === '/late/stream') return never(); if (r.path === '/bug/ctl') return { status: 200, headers: { 'x-ctl': 'a\\u0001b' }, body: 'x' }; if (r.path === '/bug/ctl-up') { r.headers.set('x-ctl', 'a\\u007fb'); return; } if (r.path === '/bug/block') return (async () => { await null; const end = Date.now() + 600; while (Date.now() < end); return { status: 202, body: 'late' }; })(); if (r.path === '/bug/exit') process.exit(3); if (r.path === '/bug/throw') throw new Error('secret detail'); if (r.path === '/bug/hang') return new Promise(() => {}); if (r.path === '/late') return new Promise((ok) => setTimeout(() => ok({ status: 202, body: 'too late' }), 400)); if (r.path === '/bug/reset') return { status: 205, body: 'not for the wire' }; return { status: 202, body: 'mine' }; } });\n",
    );
    const config = `listen:
  - address: 127.0.0.1:0
metrics: { listen: 127.0.0.1:${metricsPort} }
plugins:
  claims: { module: ${module('claim-header.ts')}, options: { header: x-user-id } }
  ab: { module: ${module('ab-cookie.ts')}, options: { share: 1 } }
  check: { module: ${module('service-check.ts')}, options: { upstream: checks } }
  down: { module: ${module('service-check.ts')}, options: { upstream: down } }
  lax: { module: ${module('service-check.ts')}, options: { upstream: down }, on_error: continue }
  slowcheck: { module: ${module('service-check.ts')}, options: { upstream: slow }, timeout: 2s }
  tenants: { module: ${module('tenant-counter.ts')}, options: { tenants: [acme] }, on_error: continue }
  bug: { module: ./bug.mjs, timeout: 300ms }
  late: { module: ./bug.mjs, timeout: 100ms, on_error: continue }
  orders: { module: ${module('json-schema.ts')}, options: { max_body: 256 } }
routes:
  - { name: claims, match: { path: /claims }, upstream: app, plugins: [claims] }
  - { name: ab, match: { path: /ab }, upstream: app, plugins: [ab] }
  - { name: check, match: { path: /check }, upstream: app, plugins: [check] }
  - { name: down, match: { path: /down }, upstream: app, plugins: [down] }
  - { name: lax, match: { path: /lax }, upstream: app, plugins: [lax] }
  - { name: slow, match: { path: /slow }, upstream: app, plugins: [slowcheck] }
  - { name: tenants, match: { path: /tenants }, upstream: app, plugins: [tenants] }
  - { name: bug, match: { path: /bug }, upstream: app, plugins: [bug] }
  - { name: late, match: { path: /late }, upstream: unhurried, plugins: [late] }
  - { name: orders, match: { path: /orders }, upstream: app, plugins: [orders] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  checks: { targets: [{ url: http://127.0.0.1:${portOf(checks)} }] }
  down: { targets: [{ url: ${down.url} }] }
  slow: { targets: [{ url: http://127.0.0.1:${portOf(slow)} }], timeouts: { response: 300ms } }
  unhurried: { targets: [{ url: http://127.0.0.1:${portOf(unhurried)} }] }
`;
    await writeFile(join(dir, 'candor.yaml'), config);
    serve = await startServe(join(dir, 'candor.yaml'), 1);
  });
  after(async () => {
    await serve?.stop();
    await app?.close();
    await down?.close();
    checks?.close();
    slow?.closeAllConnections();
    slow?.close();
    unhurried?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const url = () => `http://127.0.0.1:${serve.port}`;
  const last = () => app.received[app.received.length - 1];

  test('a header from a JWT claim goes upstream; the client’s own copy does not', async () => {
    const res = await request(url(), {
      path: '/claims',
      headers: { authorization: `Bearer ${jwt({ sub: 'user-7' })}`, 'x-user-id': 'forged' },
    });
    assert.equal(res.status, 200);
    assert.equal(last().headers['x-user-id'], 'user-7');
  });

  test('a sticky A/B cookie: drawn once, set on the answer, kept after', async () => {
    const first = await request(url(), { path: '/ab' });
    assert.equal(first.status, 200);
    assert.equal(last().headers['x-variant'], 'b');
    assert.match(String(first.headers['set-cookie']), /^ab=b; Path=\/; Max-Age=2592000$/);
    const again = await request(url(), { path: '/ab', headers: { cookie: 'ab=a' } });
    assert.equal(last().headers['x-variant'], 'a');
    assert.equal(again.headers['set-cookie'], undefined);
  });

  test('a JSON body checked against a schema: a valid one goes upstream as sent, an invalid one is a 422 problem naming each field', async () => {
    const order = '{"item":"tea","quantity":2}';
    const ok = await request(url(), { method: 'POST', path: '/orders', body: order });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(last().bodyLength, order.length);
    const before = app.received.length;
    const bad = await request(url(), {
      method: 'POST',
      path: '/orders',
      body: '{"item":"","quantity":0,"extra":1}',
    });
    assert.equal(bad.status, 422);
    assert.equal(bad.headers['content-type'], 'application/problem+json');
    const problem = JSON.parse(bad.text) as { status: number; errors: { path: string }[] };
    assert.equal(problem.status, 422);
    assert.deepEqual([...new Set(problem.errors.map((e) => e.path))].sort(), [
      '/extra',
      '/item',
      '/quantity',
    ]);
    const notJson = await request(url(), { method: 'POST', path: '/orders', body: '{"item":' });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.headers['content-type'], 'application/problem+json');
    const tooLong = await request(url(), { method: 'POST', path: '/orders', body: 'x'.repeat(257) });
    assert.equal(tooLong.status, 413);
    assert.match(String(tooLong.headers['proxy-status']), /error=http_request_error/);
    assert.equal(app.received.length, before, 'the upstream saw none of them');
  });

  test('a check calling its own service: its yes goes on, its no is the plugin’s answer, logged as such', async () => {
    assert.equal((await request(url(), { path: '/check', headers: { 'x-user': 'ok' } })).status, 200);
    const before = app.received.length;
    const no = await request(url(), { path: '/check', headers: { 'x-user': 'eve' } });
    assert.equal(no.status, 403);
    assert.equal(no.headers['content-type'], 'application/problem+json');
    assert.match(String(no.headers['x-request-id']), /./);
    assert.equal(app.received.length, before, 'the upstream never saw it');
    const id = String(no.headers['x-request-id']);
    await serve.waitForLines('request', 1);
    const line = await waitForLine(serve, id);
    assert.equal(line.answered_by, 'plugin:check');
    assert.equal(line.status, 403);
  });

  test('the check service refusing is that hop’s 502 naming it, never a 500', async () => {
    const res = await request(url(), { path: '/down', headers: { accept: 'application/json' } });
    assert.equal(res.status, 502);
    const status = String(res.headers['proxy-status']);
    assert.match(status, /error=connection_refused/);
    assert.match(status, /next-hop="down"/);
    // The log line names the hop that failed, not the route's upstream, which was never asked.
    const line = await waitForLine(serve, String(res.headers['x-request-id']));
    assert.deepEqual(
      [line.status, line.error, line.plugin_hop, line.upstream, line.target, line.attempts],
      [502, 'connection_refused', 'down', undefined, undefined, 0],
    );
  });

  test('with on_error: continue, the hop’s failure is not the request’s: the app answers, and its line names the app, no hop', async () => {
    const res = await request(url(), { path: '/lax' });
    assert.equal(res.status, 200);
    const line = await waitForLine(serve, String(res.headers['x-request-id']));
    assert.deepEqual(
      [line.status, line.error, line.plugin_hop, line.upstream, line.attempts],
      [200, undefined, undefined, 'app', 1],
    );
  });

  test('the check service slow is that hop’s 504 naming it', async () => {
    const res = await request(url(), { path: '/slow', timeoutMs: 5000 });
    assert.equal(res.status, 504);
    const status = String(res.headers['proxy-status']);
    assert.match(status, /error=http_response_timeout/);
    assert.match(status, /next-hop="slow"/);
  });

  for (const [path, what] of [
    ['/bug/throw', 'threw'],
    ['/bug/hang', 'overran its 300 ms'],
  ] as const)
    test(`a plugin's bug (${path}) is a 500 naming it and the hook, its stack kept from the client`, async () => {
      const res = await request(url(), { path, timeoutMs: 5000 });
      assert.equal(res.status, 500);
      const status = String(res.headers['proxy-status']);
      assert.match(status, /error=proxy_internal_error/);
      assert.match(status, new RegExp(`details="plugin:bug ${what} in onRequest"`));
      assert.doesNotMatch(res.text, /secret detail/);
    });

  test('a hook that overran under on_error: continue and answers later is no part of the request: the app answers, and the log names no plugin as its maker', async () => {
    const res = await request(url(), {
      path: '/late',
      headers: { 'x-request-id': 'late-1' },
      timeoutMs: 5000,
    });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'from the app');
    await serve.waitForLines('request', 1);
    let line: Record<string, unknown> | undefined;
    for (let tries = 0; tries < 200 && line === undefined; tries++) {
      line = serve.lines.find((l) => l.client_req_id === 'late-1' || l.req_id === 'late-1');
      if (line === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(line, 'the request is logged');
    assert.equal(line.answered_by, undefined);
    assert.equal(line.status, 200);
  });

  test("a plugin's answer whose body never ends is no answer of its: the gateway's 500, and the log names no plugin as its maker; under on_error: continue, the app's", async () => {
    for (const [path, status, id] of [
      ['/bug/stream-hang', 500, 'stream-1'],
      ['/late/stream', 200, 'stream-2'],
    ] as const) {
      const res = await request(url(), { path, headers: { 'x-request-id': id }, timeoutMs: 5000 });
      assert.equal(res.status, status, path);
      const line = await waitForLine(serve, String(res.headers['x-request-id']));
      assert.equal(line.client_req_id, id);
      assert.equal(line.answered_by, undefined, path);
      assert.equal(line.status, status);
    }
  });

  test('a field a plugin sets with a control character (RFC 9110 §5.5) is its bug: a 500 naming it, nothing sent on', async () => {
    const before = app.received.length;
    for (const path of ['/bug/ctl', '/bug/ctl-up']) {
      const res = await request(url(), { path });
      assert.equal(res.status, 500, path);
      assert.match(String(res.headers['proxy-status']), /details="plugin:bug threw in onRequest"/);
      assert.equal(res.headers['x-ctl'], undefined);
    }
    assert.equal(app.received.length, before);
  });

  test('an async hook that holds the event loop past its timeout after an await overran it: 500, and the log names no plugin as the maker', async () => {
    const res = await request(url(), { path: '/bug/block', headers: { 'x-request-id': 'block-1' } });
    assert.equal(res.status, 500);
    assert.match(String(res.headers['proxy-status']), /details="plugin:bug overran its 300 ms in onRequest"/);
    const line = await waitForLine(serve, String(res.headers['x-request-id']));
    assert.equal(line.answered_by, undefined);
  });

  test("process.exit in a plugin's hook is its bug, a 500 naming it: the worker serves on", async () => {
    const res = await request(url(), { path: '/bug/exit' });
    assert.equal(res.status, 500);
    assert.match(String(res.headers['proxy-status']), /details="plugin:bug threw in onRequest"/);
    assert.equal((await request(url(), { path: '/bug/own' })).status, 202);
    assert.deepEqual(
      serve.lines.filter((l) => /worker (crashed|exited)/.test(String(l.msg))),
      [],
    );
  });

  test('a plugin answering { status, body } is answered so', async () => {
    const res = await request(url(), { path: '/bug/own' });
    assert.equal(res.status, 202);
    assert.equal(res.text, 'mine');
  });

  test("a plugin's 205 goes without its body (RFC 9110 §15.3.6: no content): Content-Length 0, the next answer on the connection clean", async () => {
    const text = await rawUntil(
      serve.port,
      'GET /bug/reset HTTP/1.1\r\nHost: x\r\n\r\nGET /bug/own HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      () => false,
      5000,
    );
    const [reset, next] = text.split(/(?=HTTP\/1\.1 )/);
    assert.match(reset, /^HTTP\/1\.1 205 /);
    assert.match(reset, /\r\ncontent-length: 0\r\n/i);
    assert.ok(reset.endsWith('\r\n\r\n'), `the 205 has a body: ${JSON.stringify(reset)}`);
    assert.doesNotMatch(text, /not for the wire/);
    assert.match(next, /^HTTP\/1\.1 202 /);
    assert.ok(next.endsWith('\r\n\r\nmine'), JSON.stringify(next));
  });

  test('an observer with on_error: continue: its bug is logged, the request goes on; its counts are in /metrics', async () => {
    assert.equal((await request(url(), { path: '/tenants', headers: { 'x-tenant': 'acme' } })).status, 200);
    assert.equal((await request(url(), { path: '/tenants', headers: { 'x-tenant': 'crash' } })).status, 200);
    const metrics = await request(`http://127.0.0.1:${metricsPort}`, { path: '/metrics' });
    assert.match(
      metrics.text,
      /candor_plugin_events_total\{plugin="tenants",name="requests",label="acme"\} 1/,
    );
    assert.match(
      metrics.text,
      /candor_stage_hook_calls_total\{stage="plugin:tenants",hook="onRequest",result="threw"\} 1/,
    );
    assert.match(
      metrics.text,
      /candor_stage_hook_calls_total\{stage="plugin:bug",hook="onRequest",result="overran"\} 3/,
    );
  });
});

async function waitForLine(serve: ServeProcess, id: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 50; i++) {
    const line = serve.lines.find((l) => l.msg === 'request' && l.req_id === id);
    if (line !== undefined) return line;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no log line for ${id}`);
}
