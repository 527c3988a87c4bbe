/**
 * Interim (1xx) answers from an HTTP/2 upstream: node:http2 bounds each HEADERS block, not how
 * many come before the final one. The gateway holds them together to the response head limit,
 * as it does an HTTP/1.1 upstream's, against real node:http2 servers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { h2InterimFlood, startH2 } from '../../../../src/kits/fault-kit/h2-faults.ts';
import { request } from '../../../helpers/http-client.ts';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';

const keep = closeAfterAll();

function gatewayTo(url: string, timeouts = '{ response: 5s, total: 10s }', attempts = 1) {
  return keep(
    startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    protocol: h2c
    targets: [{ url: ${url} }]
    retries: { attempts: ${attempts} }
    timeouts: ${timeouts}
`),
  );
}

test('interim answers without end from an HTTP/2 upstream: a 502 naming the flood at the response head limit, as from an HTTP/1.1 one', async () => {
  const upstream = await keep(startH2(h2InterimFlood));
  // Retries allowed: a flood is not retried, as a head too large is not.
  const gw = await gatewayTo(upstream.url, undefined, 3);
  const res = await request(gw.url, { path: '/flood', headers: { 'x-request-id': 'h2-flood' } });
  // 42 bytes a head as HTTP/2 counts them (":status", "103" and 32): the 781st is past 32 KiB.
  const details =
    '781 interim (1xx) responses and no final one: their 32802 bytes are past the response head limit of 32768';
  assert.equal(res.status, 502);
  assert.equal(
    res.headers['proxy-status'],
    `edge-1; error=http_protocol_error; details="${details}"; next-hop="app"`,
  );
  const line = await gw.logFor('h2-flood');
  assert.equal(line.status, 502);
  assert.equal(line.error, 'http_protocol_error');
  assert.equal(line.details, details);
  assert.equal(upstream.received.length, 1);
});

test('interim answers from an HTTP/2 upstream and then silence: the 504 counts them, not "no response head"', async () => {
  const upstream = await keep(
    startH2((stream) => {
      for (let i = 0; i < 3; i++) stream.additionalHeaders({ ':status': 102 });
    }),
  );
  const gw = await gatewayTo(upstream.url, '{ response: 300ms, total: 5s }');
  const res = await request(gw.url, { path: '/drip', headers: { 'x-request-id': 'h2-drip' } });
  assert.equal(res.status, 504);
  const line = await gw.logFor('h2-drip');
  assert.equal(line.error, 'http_response_timeout');
  assert.match(
    String(line.details),
    /^no final response head \(response timeout of 300 ms\) after \S+ m?s, only 3 interim \(1xx\) answers$/,
  );
});

test('interim answers within the bound, then the final one: the answer passes', async () => {
  const upstream = await keep(
    startH2((stream) => {
      for (let i = 0; i < 20; i++)
        stream.additionalHeaders({ ':status': 103, link: '</a.css>; rel=preload' });
      stream.respond({ ':status': 200 });
      stream.end('whole');
    }),
  );
  const gw = await gatewayTo(upstream.url);
  const res = await request(gw.url, { path: '/hints' });
  assert.equal(res.status, 200);
  assert.equal(res.text, 'whole');
});
