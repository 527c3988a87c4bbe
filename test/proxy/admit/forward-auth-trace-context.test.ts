/**
 * The auth service is asked as a part of the client's trace: it gets the trace context whole,
 * the gateway's `traceparent` with the client's `tracestate` (W3C Trace Context §3.3: the two
 * go together), as the upstream does; a `tracestate` whose `traceparent` was invalid goes to
 * neither. Without `tracestate` in `send_headers`, and not twice with it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardAuthConfig, startAuthService, startAuthStage } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const STATE = 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7';

for (const sendHeaders of ['[Authorization, Cookie]', '[Authorization, tracestate]']) {
  test(`send_headers ${sendHeaders}: the auth service gets the client's tracestate with the continued trace, once`, async () => {
    const service = await startAuthService((_req, res) => res.writeHead(200).end());
    const { gw, echo, close } = await startAuthStage((app) =>
      forwardAuthConfig(app, `{ url: "${service.url}", send_headers: ${sendHeaders} }`),
    );
    try {
      for (const traceparent of [`00-${TRACE_ID}-00f067aa0ba902b7-01`, 'garbage']) {
        const res = await request(gw.url, { path: '/app', headers: { traceparent, tracestate: STATE } });
        assert.equal(res.status, 200);
      }
    } finally {
      await close(service);
    }
    assert.deepEqual(
      service.asked.map((asked) => asked.tracestate),
      [STATE, undefined],
    );
    assert.equal(String(service.asked[0].traceparent).slice(3, 35), TRACE_ID);
    assert.deepEqual(
      echo.received.map((r) => r.headers.tracestate),
      [STATE, undefined],
    );
  });
}
