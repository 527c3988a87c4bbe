/**
 * Interim (1xx) answers and HTTP/1.0 (RFC 9110 §15.2): HTTP/1.0 has no 1xx, so an upstream that
 * says `HTTP/1.0 103` sent an interim answer it could not have meant, and the gateway, whose
 * relay would say it in HTTP/1.1, passes on none of it; the final answer that follows is relayed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

for (const [label, interim] of [
  ['103 Early Hints', 'HTTP/1.0 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n'],
  ['102 Processing', 'HTTP/1.0 102 Processing\r\n\r\n'],
] as const) {
  test(`an upstream's HTTP/1.0 ${label} reaches no client; its final answer does`, async () => {
    const upstream = await startRawFault(async (c) => {
      await c.nextRequest();
      await c.write(`${interim}HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nfinal`);
      c.socket.end();
    });
    const gw = await startTestGateway(singleUpstream(upstream.url));
    try {
      const { raw } = await rawRequest(
        gw.port,
        'GET /page HTTP/1.1\r\nHost: a\r\nX-Request-Id: old-interim\r\nConnection: close\r\n\r\n',
      );
      assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/, 'no interim answer before the final one');
      assert.equal(raw.match(/HTTP\/1\.1 /g)?.length, 1, 'one answer only');
      assert.ok(raw.endsWith('\r\n\r\nfinal'), raw);
      const line = await gw.logFor('old-interim');
      assert.equal(line.status, 200);
      assert.equal(line.error, undefined);
      assert.equal(line.interim_dropped, 1);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
}

test("an upstream's HTTP/1.1 103 still reaches an HTTP/1.1 client", async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write(
      'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n' +
        'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfinal',
    );
    c.socket.end();
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const { raw } = await rawRequest(gw.port, 'GET /page HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 103 Early Hints\r\n/);
    assert.match(raw, /\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
  } finally {
    await gw.close();
    await upstream.close();
  }
});
