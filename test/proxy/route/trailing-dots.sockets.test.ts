/**
 * Windows (IIS, and any server handing the path to NTFS) ends a path segment before its
 * trailing dots and spaces: `/admin.` and `/admin%20` are its `/admin`. The router keeps them
 * apart, as RFC 3986 does, so such a path reached the catch-all route, and an IIS upstream behind
 * it served the `/admin` route's page past that route's policy. A path whose trailing dots or
 * spaces take it to another route than that reading is refused, never forwarded; one routed the
 * same either way goes on as sent (`/files/v1.`, `/api/x.` where `/api` holds both).
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
    res.end('served');
  }),
);

const gw = await keep(
  startTestGateway(`name: edge-1
routes:
  - name: admin
    match: { path: /admin }
    upstream: app
    maintenance: { retry_after: 90s, message: Staff only. }
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

test("a path whose segments' trailing dots or spaces, dropped, make it another route's path is a 400, never forwarded", async () => {
  for (const target of [
    '/admin.',
    '/admin..',
    '/admin%20',
    '/admin.%20.',
    '/admin%2E',
    '/admin./users?x=1',
    '/admin%20/users',
    '/admin.;jsessionid=1',
  ]) {
    received.length = 0;
    const res = await get(target);
    assert.equal(res.status, 400, target);
    assert.equal(
      res.headers['proxy-status'],
      'edge-1; error=http_request_error; details="a path segment\'s trailing dots or spaces make it another route\'s path to a server that drops them (Windows: IIS)"',
      target,
    );
    assert.deepEqual(received, [], target);
  }
});

test('trailing dots and spaces that leave the route as it is go on as sent', async () => {
  const cases = [
    ['/files/v1.', 200, ['/files/v1.']],
    ['/files/v1./x', 200, ['/files/v1./x']],
    ['/files/a%20', 200, ['/files/a%20']],
    ['/admin/x.', 503, []],
    ['/administrator.', 200, ['/administrator.']],
    // A segment of dots alone is no name Windows would shorten: its own route's, as sent.
    ['/.../x', 200, ['/.../x']],
    ['/x?q=admin.', 200, ['/x?q=admin.']],
  ] as const;
  for (const [target, status, upstream] of cases) {
    received.length = 0;
    const res = await get(target);
    assert.equal(res.status, status, target);
    assert.deepEqual(received, upstream, target);
  }
});

test("a path whose segments' escaped control bytes or spaces at either end, trimmed as Java does, make it another route's path is a 400", async () => {
  // Java's String.trim() on each segment (Spring's AntPathMatcher: CVE-2016-5007) reads every
  // one of these as `/admin`, which the `/admin` route's policy guards.
  for (const target of [
    '/admin%09',
    '/admin%0A',
    '/admin%0d%0a',
    '/%0Badmin',
    '/admin%1F/users',
    '/%20admin',
  ]) {
    received.length = 0;
    const res = await get(target);
    assert.equal(res.status, 400, target);
    assert.equal(
      res.headers['proxy-status'],
      "edge-1; error=http_request_error; details=\"a path segment's escaped control bytes or spaces at its ends (such as %09) make it another route's path to a server that trims them (Java's String.trim)\"",
      target,
    );
    assert.deepEqual(received, [], target);
  }
  // Routed the same either way: on as sent.
  for (const target of ['/files/a%09', '/x/%0Ay', '/a%09b']) {
    received.length = 0;
    const res = await get(target);
    assert.equal(res.status, 200, target);
    assert.deepEqual(received, [target], target);
  }
});
