/**
 * A new HTTP/2 connection to an upstream carries one stream until the upstream's SETTINGS have
 * come: a server that takes fewer streams at once (SETTINGS_MAX_CONCURRENT_STREAMS 2 here)
 * refuses those past its bound that reach it first (REFUSED_STREAM, RFC 9113 §5.1.2), and a burst
 * that met a cold pool came back to its clients as 502s from a healthy upstream. The burst here
 * comes on one HTTP/2 connection, its requests in one read, so that all of them reach the pool in
 * the same turn, before any SETTINGS can.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { h2Answer, startH2 } from '../../../../src/kits/fault-kit/h2-faults.ts';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';

const keep = closeAfterAll();

/** `count` GETs on one HTTP/2 session, sent together; their statuses, in order. */
async function burst(url: string, count: number): Promise<number[]> {
  const session = http2.connect(url);
  session.on('error', () => {});
  try {
    await new Promise((resolve) => session.once('remoteSettings', resolve));
    return await Promise.all(
      Array.from(
        { length: count },
        (_, i) =>
          new Promise<number>((resolve) => {
            const stream = session.request({ ':path': `/${i}` });
            let status = 0;
            const timer = setTimeout(() => stream.destroy(), 5000);
            stream.on('response', (headers) => {
              status = Number(headers[':status']);
            });
            stream.on('error', () => {});
            stream.resume();
            stream.on('close', () => {
              clearTimeout(timer);
              resolve(status);
            });
          }),
      ),
    );
  } finally {
    session.close();
  }
}

test('a burst on a cold pool to an upstream that takes 2 streams at once: every request answered, none sent past its bound', async () => {
  const upstream = await keep(startH2(h2Answer, { maxConcurrentStreams: 2 }));
  const gw = await keep(
    startTestGateway(
      `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    protocol: h2c
    targets: [{ url: "${upstream.url}" }]
`,
      {},
      'http2: true',
    ),
  );
  const statuses = await burst(gw.url, 20);
  assert.deepEqual(statuses, new Array(20).fill(200));
  assert.equal(upstream.received.length, 20, 'each request reached the upstream once');
  const lines = gw.logs.filter((line) => line.msg === 'request');
  assert.equal(lines.length, 20);
  assert.deepEqual(
    lines.filter((line) => line.error !== undefined && line.error !== null).map((line) => line.details),
    [],
    'no request was refused, nor retried after a refusal',
  );
  assert.ok(upstream.peakStreams <= 2);
  assert.ok(
    upstream.connections <= 10,
    `${upstream.connections} connections: no more than 2 streams each asks for`,
  );
});
