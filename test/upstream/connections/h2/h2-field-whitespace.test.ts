/**
 * An HTTP/2 upstream's field value with whitespace at either end: RFC 9113 §8.2.1 makes such a
 * response malformed, and §8.1.1 has an intermediary refuse it, never forward it. node:http2's
 * client (nghttp2's check) dropped the field without a word and the answer went on without it:
 * the client got a 200 the upstream never sent so.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { startH2, startH2Raw } from '../../../../src/kits/fault-kit/h2-faults.ts';
import { request } from '../../../helpers/http-client.ts';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';

const keep = closeAfterAll();

function gatewayTo(url: string) {
  return keep(
    startTestGateway(
      `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    protocol: h2c
    targets: [{ url: ${url} }]
    retries: { attempts: 2 }
    timeouts: { response: 1s, read: 1s, total: 5s }
`,
      {},
      'http2: true',
    ),
  );
}

/** One GET over HTTP/2 to the gateway: the head it got, or how its stream ended. */
function h2Get(url: string, id: string): Promise<{ status: unknown; proxyStatus: unknown; rst: number }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on('error', reject);
    const stream = session.request({ ':path': '/padded', 'x-request-id': id });
    let status: unknown;
    let proxyStatus: unknown;
    stream.on('response', (head) => {
      status = head[':status'];
      proxyStatus = head['proxy-status'];
    });
    stream.on('error', () => {});
    stream.resume();
    stream.on('close', () => {
      resolve({ status, proxyStatus, rst: stream.rstCode });
      session.close();
    });
  });
}

const expected = (name: string) =>
  `whitespace around the value of header "${name}" (HTTP/2 allows none: RFC 9113 section 8.2.1)`;
/** The same in Proxy-Status, a structured-field string (its quotes escaped). */
const said = (name: string) => expected(name).replaceAll('"', '\\"');

for (const [label, value] of [
  ['leading space', ' padded'],
  ['trailing tab', 'padded\t'],
] as const) {
  test(`a response field with ${label}: 502 http_protocol_error naming it, to an HTTP/1.1 and an HTTP/2 client, never the answer without it`, async () => {
    const upstream = await keep(
      startH2Raw({
        head: [
          [':status', '200'],
          ['x-padded', value],
        ],
        data: ['body'],
      }),
    );
    const gw = await gatewayTo(upstream.url);
    const res = await request(gw.url, { path: '/padded', headers: { 'x-request-id': 'h1' } });
    assert.equal(res.status, 502);
    assert.equal(
      res.headers['proxy-status'],
      `edge-1; error=http_protocol_error; details="${said('x-padded')}"; next-hop="app"`,
    );
    const line = await gw.logFor('h1');
    assert.equal(line.error, 'http_protocol_error');
    assert.equal(line.shape, 'garbage');
    assert.equal(line.details, expected('x-padded'));
    // Garbage is not asked again (the raw server answers a connection's first stream only).
    assert.equal(line.attempts, 1);

    const upstream2 = await keep(
      startH2Raw({
        head: [
          [':status', '200'],
          ['x-padded', value],
        ],
        data: ['body'],
      }),
    );
    const gw2 = await gatewayTo(upstream2.url);
    const answer = await h2Get(gw2.url, 'h2');
    assert.equal(answer.status, 502);
    assert.equal(
      answer.proxyStatus,
      `edge-1; error=http_protocol_error; details="${said('x-padded')}"; next-hop="app"`,
    );
    assert.equal((await gw2.logFor('h2')).error, 'http_protocol_error');
  });
}

test('a trailer field with whitespace at an end, after the head: the transfer is cut, logged http_protocol_error naming it', async () => {
  const upstream = await keep(
    startH2Raw({ head: [[':status', '200']], data: ['first part'], trailers: [['x-sum', ' 42']] }),
  );
  const gw = await gatewayTo(upstream.url);
  const res = await request(gw.url, { path: '/trailed', headers: { 'x-request-id': 'trailed' } });
  assert.equal(res.status, 200);
  assert.equal(res.aborted, true, 'cut, never ended as whole');
  const line = await gw.logFor('trailed');
  assert.equal(line.error, 'http_protocol_error');
  assert.equal(line.stage, 'body_streaming');
  assert.equal(line.details, expected('x-sum'));
});

test('an interim (1xx) head with such a field: 502 http_protocol_error naming it, not a 103 without it', async () => {
  const upstream = await keep(
    startH2((stream) => {
      stream.additionalHeaders({ ':status': 103, link: '</a.css>; rel=preload ' });
      stream.respond({ ':status': 200 });
      stream.end('whole');
    }),
  );
  const gw = await gatewayTo(upstream.url);
  const res = await request(gw.url, { path: '/hints', headers: { 'x-request-id': 'hints' } });
  assert.equal(res.status, 502);
  const line = await gw.logFor('hints');
  assert.equal(line.error, 'http_protocol_error');
  assert.equal(line.details, expected('link'));
});

test('a field value with whitespace inside it is no breach: it passes as it came', async () => {
  const upstream = await keep(
    startH2Raw({
      head: [
        [':status', '200'],
        ['x-inner', 'a b\tc'],
        ['x-empty', ''],
      ],
      data: ['body'],
    }),
  );
  const gw = await gatewayTo(upstream.url);
  const res = await request(gw.url, { path: '/inner' });
  assert.equal(res.status, 200);
  assert.equal(res.text, 'body');
  assert.equal(res.headers['x-inner'], 'a b\tc');
  assert.equal(res.headers['x-empty'], '');
});
