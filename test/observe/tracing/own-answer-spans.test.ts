/**
 * Requests Candor answers itself, on a route, with no attempt upstream (a 429 of the route's
 * rate limit, a redirect): their server spans are named and carry http.route as a forwarded
 * request's do (`GET /items/*`), so that a dashboard grouped by span name does not file them
 * under a bare `GET` beside every unrouted request.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { KIND, STATUS, startCollector } from './collector.ts';

test('a 429 and a redirect of a route: their server spans name the route (`HTTP` for an unlisted method); a 404 with no route stays `GET`', async () => {
  const collector = await startCollector();
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - name: items
    match: { path: /items }
    upstream: app
    rate_limit: { rate: 0.000001, burst: 1 }
  - name: old
    match: { path: /old }
    redirect: { location: "https://example.com/new", status: 301 }
upstreams:
  app:
    targets:
      - url: ${echo.url}
tracing:
  otlp_endpoint: ${collector.endpoint}
`);
  try {
    const ask = (path: string, id: string) => request(gw.url, { path, headers: { 'x-request-id': id } });
    assert.equal((await ask('/items/1', 'own-1')).status, 200);
    assert.equal((await ask('/items/2', 'own-2')).status, 429);
    assert.equal((await ask('/old/3', 'own-3')).status, 301);
    assert.equal((await ask('/nowhere/4', 'own-4')).status, 404);
    // A method the conventions do not list: `HTTP` stands for it, before the route as after.
    const purge = await request(gw.url, {
      method: 'PURGE',
      path: '/old/5',
      headers: { 'x-request-id': 'own-5' },
    });
    assert.equal(purge.status, 308);
    for (const id of ['own-1', 'own-2', 'own-3', 'own-4', 'own-5']) await gw.logFor(id);
  } finally {
    await gw.close();
    await echo.close();
    await collector.close();
  }
  const server = (id: string) => {
    const span = collector.spans.find(
      (s) => s.kind === KIND.server && s.attributes['candor.request_id'] === id,
    );
    assert.ok(span, id);
    return span;
  };
  const forwarded = server('own-1');
  assert.equal(forwarded.name, 'GET /items/*');
  const limited = server('own-2');
  assert.equal(limited.name, 'GET /items/*');
  assert.equal(limited.attributes['http.route'], '/items/*');
  assert.equal(limited.attributes['http.response.status_code'], 429);
  assert.equal(limited.attributes['error.type'], 'http_request_denied');
  assert.deepEqual(limited.status, { code: STATUS.unset }, "a server's 4xx is not its error");
  const redirected = server('own-3');
  assert.equal(redirected.name, 'GET /old/*');
  assert.equal(redirected.attributes['http.route'], '/old/*');
  assert.equal(redirected.attributes['http.response.status_code'], 301);
  const other = server('own-5');
  assert.equal(other.name, 'HTTP /old/*');
  assert.deepEqual(
    [other.attributes['http.request.method'], other.attributes['http.request.method_original']],
    ['_OTHER', 'PURGE'],
  );
  const unrouted = server('own-4');
  assert.equal(unrouted.name, 'GET');
  assert.equal(unrouted.attributes['http.route'], undefined);
  assert.equal(unrouted.attributes['http.response.status_code'], 404);
  assert.equal(typeof unrouted.attributes['error.type'], 'string');
  assert.deepEqual(unrouted.status, { code: STATUS.unset });
});
