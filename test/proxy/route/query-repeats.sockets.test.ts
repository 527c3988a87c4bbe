/**
 * A query parameter given twice, on a gateway with a route that tests it (`match.query`): the
 * conditions read its first value, and a server may read its last (PHP, Rails; Go and Flask
 * the first). `?debug=0&debug=1` met the catch-all and went on to an upstream that read
 * debug=1, past the `debug: "1"` route's policy. A query the two readings route apart is a
 * 400, never forwarded, over HTTP/1.1 and HTTP/2; one they route alike goes on as sent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { h2Status, rawRequest } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { parseRaw } from '../accept/downstream-fixture.ts';

const keep = closeAfterAll();

const received: string[] = [];
const app = await keep(
  listenOnLoopback((req, res) => {
    received.push(req.url ?? '');
    res.end();
  }),
);

const gw = await keep(
  startTestGateway(
    `name: edge-1
routes:
  - name: debug
    match: { path: /app, query: { debug: "1" } }
    upstream: app
    maintenance: { retry_after: 60s, message: Debugging is closed. }
  - name: trace
    match: { path: /tr, query: { trace_id: { present: true } } }
    upstream: app
    maintenance: { retry_after: 60s, message: Tracing is closed. }
  - name: catch-all
    upstream: app
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`,
    {},
    'http2: true',
  ),
);

const get = async (target: string) =>
  parseRaw(
    (await rawRequest(gw.port, `GET ${target} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`)).raw,
  );

test('a repeated parameter whose last value picks another route than its first is a 400, never forwarded', async () => {
  for (const target of ['/app?debug=0&debug=1', '/app?debug=1&x=2&%64ebug=0', '/app?debug&debug=1']) {
    received.length = 0;
    const res = await get(target);
    assert.equal(res.status, 400, target);
    assert.equal(
      res.headers['proxy-status'],
      'edge-1; error=http_request_error; details="the query gives a parameter more than once, and its last value would take the request to another route than its first (a server such as PHP or Rails reads the last)"',
      target,
    );
    assert.equal(await h2Status(gw.url, target), 400, `${target} over HTTP/2`);
    assert.deepEqual(received, [], target);
  }
});

test('a repeated parameter both readings route alike goes on as sent', async () => {
  received.length = 0;
  // Another name repeated, or the tested one with one value: the catch-all either way.
  for (const target of ['/app?x=1&x=2&debug=0', '/app?debug=0&debug=0', '/other?debug=0&debug=1'])
    assert.equal((await get(target)).status, 200, target);
  assert.deepEqual(received, ['/app?x=1&x=2&debug=0', '/app?debug=0&debug=0', '/other?debug=0&debug=1']);
  // The debug route either way: its policy applies.
  assert.equal((await get('/app?debug=1&debug=1')).status, 503);
});

test("a parameter whose name PHP reads as a tested one (leading spaces dropped, ' ' '.' '[' as '_') is a 400 where that reading routes apart", async () => {
  // PHP's $_GET has `debug` for ` debug` and `trace_id` for `trace.id`, `trace id`, `trace[id`:
  // the conditions read names as sent, and these went on past the debug and trace routes.
  for (const target of [
    '/app?%20debug=1',
    '/app?debug=0&%20debug=1',
    '/tr?trace.id=7',
    '/tr?trace+id=7',
    '/tr?trace%20id=7',
    '/tr?trace[id=7',
  ]) {
    received.length = 0;
    const res = await get(target);
    assert.equal(res.status, 400, target);
    assert.equal(
      res.headers['proxy-status'],
      'edge-1; error=http_request_error; details="a query parameter\'s name is a name another route tests to a server that reads names as PHP does (leading spaces dropped, \\" \\", \\".\\" and an unclosed \\"[\\" read as \\"_\\")"',
      target,
    );
    assert.equal(await h2Status(gw.url, target), 400, `${target} over HTTP/2`);
    assert.deepEqual(received, [], target);
  }
  // PHP reads these as the names they are sent as, or routed alike: they go on as sent.
  received.length = 0;
  for (const target of ['/tr?trace[id]=7', '/app?x.y=1', '/other?%20debug=1'])
    assert.equal((await get(target)).status, 200, target);
  assert.deepEqual(received, ['/tr?trace[id]=7', '/app?x.y=1', '/other?%20debug=1']);
  assert.equal((await get('/app?%20debug=1&debug=1')).status, 503, 'the debug route either way');
});
