/**
 * A plain listener that serves h2c reads the whole connection preface before HTTP/1.1 sees a
 * byte: its request line reaches the HTTP/1.1 parser only when the preface broke after it. That
 * client is told so (400), not that HTTP/2 is not supported on a listener that supports it (the
 * 505 a listener without `http2` gives, which still holds).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../../src/kits/fault-kit/http-servers.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';
import { exchange, parseRaw } from '../downstream-fixture.ts';

const BROKEN = 'PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n';

for (const [label, listener, status, details] of [
  ['with http2', 'http2: true', 400, 'malformed HTTP/2 connection preface'],
  ['without http2', '', 505, 'HTTP/2 is not supported on this listener'],
] as const) {
  test(`a broken HTTP/2 preface on a plain listener ${label}: ${status}, "${details}", logged, nothing upstream`, async (t) => {
    const echo = await startEcho();
    const gw = await startTestGateway(
      `name: edge-1\nroutes: [{ upstream: app }]\nupstreams: { app: { targets: [{ url: "${echo.url}" }] } }\n`,
      {},
      listener,
    );
    t.after(async () => {
      await gw.close();
      await echo.close();
    });
    const answer = await exchange(gw.port, BROKEN);
    const res = parseRaw(answer.raw);
    assert.equal(res.status, status);
    assert.equal(res.headers['proxy-status'], `edge-1; error=http_request_error; details="${details}"`);
    assert.ok(answer.closed, 'closed after the answer');
    const line = await gw.accessLine(1);
    assert.deepEqual([line.status, line.error, line.details], [status, 'http_request_error', details]);
    assert.equal(echo.received.length, 0);
  });
}
