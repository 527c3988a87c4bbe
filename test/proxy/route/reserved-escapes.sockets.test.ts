/**
 * An escaped character that a path segment may also hold as it is (RFC 3986 §3.3: `:`, `@` and
 * the sub-delims but `;`): RFC 3986 §2.2 keeps `/@admin` and `/%40admin` apart, and so does the
 * router, but nginx's locations, Express, Rails and Django decode the path before they read it,
 * so `/%40admin` is their `/@admin`. A path whose two readings take it to different routes is
 * refused, never forwarded: as sent it would reach the catch-all, and an upstream that decodes
 * it would serve the `/@admin` route's page past that route's policy. One routed the same
 * either way goes on as sent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rawRequest } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { parseRaw } from '../accept/downstream-fixture.ts';

const keep = closeAfterAll();

const received: string[] = [];
const app = await keep(
  listenOnLoopback((req, res) => {
    received.push(req.url ?? '');
    res.end(`served ${decodeURIComponent(new URL(req.url ?? '/', 'http://upstream').pathname)}`);
  }),
);

const gw = await keep(
  startTestGateway(`name: edge-1
routes:
  - name: staff
    match: { path: /@admin }
    upstream: app
    maintenance: { retry_after: 90s, message: Staff only. }
  - name: cpp
    match: { path: /docs/c++ }
    upstream: app
    maintenance: { retry_after: 90s, message: Closed. }
  - name: actions
    match: { path: "/v1/jobs:purge" }
    upstream: app
    maintenance: { retry_after: 90s, message: Closed. }
  - name: catch-all
    upstream: app
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`),
);

const get = async (target: string) =>
  parseRaw(
    (await rawRequest(gw.port, `GET ${target} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`)).raw,
  );

test("a path whose escapes, decoded, make it another route's path is a 400, never forwarded", async () => {
  for (const target of [
    '/%40admin',
    '/%40admin/users?x=1',
    '/docs/c%2B%2B',
    '/docs/c%2b+/intro',
    '/v1/jobs%3Apurge',
    '/v1/jobs%3apurge',
    // Both readings at once, as a servlet container makes them: the parameters dropped, then decoded.
    '/%40admin;jsessionid=1',
    '/docs/c%2B%2B;x/intro',
  ]) {
    received.length = 0;
    const res = await get(target);
    assert.equal(res.status, 400, target);
    assert.equal(
      res.headers['proxy-status'],
      'edge-1; error=http_request_error; details="the path\'s escapes (such as %40 for \\"@\\") make it another route\'s path to a server that decodes them"',
      target,
    );
    assert.deepEqual(received, [], target);
  }
});

test("escapes that leave the route as it is go on as sent; the route's own spelling meets its policy", async () => {
  const cases = [
    // The same route either way: forwarded with the escape as sent (RFC 3986 §2.2: not the same URI).
    ['/users/me%40example.com', 200, ['/users/me%40example.com']],
    ['/v1/jobs:purge/%40x', 503, []],
    ['/docs/c%2B', 200, ['/docs/c%2B']],
    // Escapes that would make a query, another segment or a parameter of it stay escaped in both.
    ['/%40admin%3F/x', 200, ['/%40admin%3F/x']],
    ['/@admin', 503, []],
    ['/docs/c++/intro', 503, []],
  ] as const;
  for (const [target, status, upstream] of cases) {
    received.length = 0;
    const res = await get(target);
    assert.equal(res.status, status, target);
    assert.deepEqual(received, upstream, target);
  }
});
