/**
 * Routes chosen by method, headers and query on a real gateway: the upstream that answers says
 * which route won, and a route without conditions still takes what no conditioned route claims.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { createRouter } from '../../../src/proxy/route/router.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

describe('matching by method, headers and query', () => {
  const upstreams: Record<string, Fault> = {};
  let gw: TestGateway;
  before(async () => {
    for (const name of ['stable', 'canary', 'writes', 'debug', 'beta']) upstreams[name] = await startEcho();
    const target = (name: string) => `  ${name}:\n    targets: [{ url: ${upstreams[name].url} }]\n`;
    gw = await startTestGateway(`routes:
  - name: api
    match: { path: /api }
    upstream: stable
  - name: api-writes
    match: { path: /api, methods: [POST, PUT] }
    upstream: writes
  - name: api-reads
    match: { path: /api/reads, methods: [GET] }
    upstream: stable
  - name: api-canary
    match: { path: /api/c, headers: { X-Canary: "1" } }
    upstream: canary
  - name: api-beta
    match: { path: /api/b, headers: { Cookie: { regex: "(^|; )beta=yes(;|$)" } } }
    upstream: beta
  - name: api-debug
    match: { path: /api, query: { debug: { present: true } }, headers: { X-Trace: { present: false } } }
    upstream: debug
upstreams:
${Object.keys(upstreams).map(target).join('')}`);
  });
  after(async () => {
    await gw.close();
    for (const fault of Object.values(upstreams)) await fault.close();
  });

  const routeOf = async (options: Parameters<typeof request>[1]) => {
    const res = await request(gw.url, options);
    assert.equal(res.status, 200);
    const line = await gw.logFor(String(res.headers['x-request-id']));
    return line.route;
  };

  test('a route without conditions takes what the others do not claim', async () => {
    assert.equal(await routeOf({ path: '/api/users' }), 'api');
    assert.equal(await routeOf({ path: '/api/users', method: 'DELETE' }), 'api');
  });

  test('methods, exact header values, header patterns and query parameters each pick their route', async () => {
    assert.equal(await routeOf({ path: '/api/users', method: 'POST', body: 'x' }), 'api-writes');
    // Conditions of one rank on one path that a request could meet together are refused by the
    // config check (route-shadows.ts): each of these has a path of its own.
    assert.equal(await routeOf({ path: '/api/c/users', headers: { 'x-canary': '1' } }), 'api-canary');
    assert.equal(await routeOf({ path: '/api/c/users', headers: { 'x-canary': '2' } }), 'api');
    assert.equal(await routeOf({ path: '/api/b', headers: { cookie: 'a=1; beta=yes' } }), 'api-beta');
    assert.equal(await routeOf({ path: '/api/b', headers: { cookie: 'a=1; beta=yesno' } }), 'api');
    assert.equal(await routeOf({ path: '/api/x?debug' }), 'api-debug');
    assert.equal(
      await routeOf({ path: '/api/x?debug=1', headers: { 'x-trace': '1' } }),
      'api',
      'present: false',
    );
  });

  test('a route that takes GET takes HEAD too (RFC 9110 §9.3.2); one that takes only POST and PUT does not', async () => {
    const res = await request(gw.url, { path: '/api/reads', method: 'HEAD' });
    assert.equal(res.status, 200);
    const line = await gw.logFor(String(res.headers['x-request-id']));
    assert.equal(line.route, 'api-reads');
    assert.equal(upstreams.stable.received.at(-1)?.method, 'HEAD', 'the reads upstream got it as HEAD');
    assert.equal(await routeOf({ path: '/api/reads' }), 'api-reads');
    assert.equal(await routeOf({ path: '/api/users', method: 'HEAD' }), 'api', 'not api-writes');
  });

  test('the route testing more conditions wins; a longer path prefix still comes first', async () => {
    // Both api-writes (1 condition) and api-debug (2) claim this request: the more specific wins.
    assert.equal(await routeOf({ path: '/api?debug', method: 'POST', body: 'x' }), 'api-debug');
    assert.equal(upstreams.debug.received.at(-1)?.method, 'POST', 'the debug upstream got it');
  });
});

test('the router: longest prefix first, then the most conditions, then file order', () => {
  const config = parseConfig(
    `listen: [{ address: 127.0.0.1:0 }]
routes:
  - { name: a, match: { path: /x, methods: [GET] }, upstream: u }
  - { name: b, match: { path: /x, headers: { X-A: "1" } }, upstream: u }
  - { name: c, match: { path: /x, methods: [GET], headers: { X-A: "1" } }, upstream: u }
  - { name: d, match: { path: /x/y }, upstream: u }
upstreams: { u: { targets: [{ url: http://127.0.0.1:1 }] } }
`,
    '<test>',
    {},
  );
  const router = createRouter(config.routes);
  const name = (path: string, method: string, headers: Record<string, string> = {}) =>
    router.match('h', path, { method, headers })?.name;
  assert.equal(name('/x', 'GET', { 'x-a': '1' }), 'c');
  assert.equal(name('/x', 'GET'), 'a');
  assert.equal(name('/x', 'POST', { 'x-a': '1' }), 'b');
  assert.equal(name('/x', 'POST'), undefined);
  assert.equal(name('/x/y', 'POST'), 'd', 'the longer prefix, even without conditions');
});
