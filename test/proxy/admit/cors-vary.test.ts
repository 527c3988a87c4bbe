/**
 * Vary on a CORS route's answers: the upstream's Vary gets Origin as a member of its list,
 * never as an empty element beside it (RFC 9110 §5.6.1: a sender generates none).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test('an upstream’s empty Vary becomes Vary: Origin, not ", Origin"; its other Vary stays as it was', async () => {
  const upstream = await startRawFault(async (connection) => {
    await connection.nextRequest();
    await connection.end(
      'HTTP/1.1 200 OK\r\nVary:\r\nVary: Accept-Encoding\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok',
    );
  });
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: api
    match: { path: /api }
    upstream: app
    cors: { origins: ["https://app.test"] }
upstreams:
  app:
    targets: [{ url: ${upstream.url} }]
`);
  try {
    const { raw } = await rawRequest(
      gw.port,
      'GET /api HTTP/1.1\r\nHost: gw.test\r\nOrigin: https://app.test\r\nConnection: close\r\n\r\n',
    );
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
    const vary = raw
      .split('\r\n\r\n')[0]
      .split('\r\n')
      .filter((line) => /^vary:/i.test(line));
    assert.deepEqual(vary, ['Vary: Origin', 'Vary: Accept-Encoding']);
    assert.match(raw, /\r\naccess-control-allow-origin: https:\/\/app\.test\r\n/);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

for (const [label, fields, expected] of [
  [
    'Origin in its second Vary',
    'Vary: Accept-Encoding\r\nVary: origin\r\n',
    ['Vary: Accept-Encoding', 'Vary: origin'],
  ],
  ['* in its second Vary', 'Vary: Accept-Encoding\r\nVary: *\r\n', ['Vary: Accept-Encoding', 'Vary: *']],
  [
    'Origin in neither',
    'Vary: Accept-Encoding\r\nVary: Accept\r\n',
    ['Vary: Accept-Encoding, Origin', 'Vary: Accept'],
  ],
  [
    'the first ending in a comma',
    'Vary: Accept-Encoding, \r\nVary: Accept\r\n',
    ['Vary: Accept-Encoding, Origin', 'Vary: Accept'],
  ],
  ['the first only a comma', 'Vary: ,\r\nVary: Accept\r\n', ['Vary: Origin', 'Vary: Accept']],
] as const) {
  test(`an upstream’s two Vary fields with ${label}: Origin listed once, beside no empty member (RFC 9110 §5.3, §5.6.1)`, async () => {
    const upstream = await startRawFault(async (connection) => {
      await connection.nextRequest();
      await connection.end(`HTTP/1.1 200 OK\r\n${fields}Content-Length: 2\r\nConnection: close\r\n\r\nok`);
    });
    const gw = await startTestGateway(`name: edge-1
routes:
  - name: api
    match: { path: /api }
    upstream: app
    cors: { origins: ["https://app.test"] }
upstreams:
  app:
    targets: [{ url: ${upstream.url} }]
`);
    try {
      const { raw } = await rawRequest(
        gw.port,
        'GET /api HTTP/1.1\r\nHost: gw.test\r\nOrigin: https://app.test\r\nConnection: close\r\n\r\n',
      );
      assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
      const vary = raw
        .split('\r\n\r\n')[0]
        .split('\r\n')
        .filter((line) => /^vary:/i.test(line));
      assert.deepEqual(vary, expected);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
}
