/**
 * An auth service that answers that the request loops (its RFC 9209 Proxy-Status names
 * `proxy_loop_detected`: another Candor, or any proxy, that found its own name in Via) is the
 * hop looping, told as a loop: 502 proxy_loop_detected, no Retry-After (it will not clear by
 * retrying, DESIGN's table), next-hop the auth hop. Any other 5xx of the service stays the
 * hop unavailable, a 503 with Retry-After.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { forwardAuthConfig, startAuthService, startAuthStage } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

test('an auth service behind a gateway of the same name answers a loop: the client gets 502 proxy_loop_detected, no Retry-After, nothing reaches the app', async () => {
  // The auth service's own gateway, named as this one is: it finds "edge-1" in the call's Via.
  const authApp = await startEcho();
  const authGateway = await startTestGateway(singleUpstream(authApp.url));
  const { gw, echo, close } = await startAuthStage((app) =>
    forwardAuthConfig(app, `{ url: "${authGateway.url}/check" }`),
  );
  try {
    const res = await request(gw.url, {
      path: '/app',
      headers: { accept: 'application/json', 'x-request-id': 'loop-1' },
    });
    assert.equal(res.status, 502);
    assert.equal(res.headers['retry-after'], undefined);
    assert.equal(res.headers['cache-control'], 'no-store');
    const proxyStatus = String(res.headers['proxy-status']);
    assert.match(proxyStatus, /^edge-1; error=proxy_loop_detected; /, proxyStatus);
    assert.match(proxyStatus, /next-hop="auth:forward"/, proxyStatus);
    assert.equal(JSON.parse(res.text).status, 502);
    assert.equal((await gw.logFor('loop-1')).auth, 'failed: proxy_loop_detected');
    assert.equal(echo.received.length, 0);
    assert.equal(authApp.received.length, 0);
  } finally {
    await close();
    await authGateway.close();
    await authApp.close();
  }
});

test("an auth service's other 5xx, a proxy's failure that is no loop among them, stays the hop unavailable: 503 with Retry-After", async () => {
  const service = await startAuthService((_req, res) => {
    res.writeHead(502, { 'proxy-status': 'idp-lb; error=connection_refused' }).end('down');
  });
  const { gw, echo, close } = await startAuthStage((app) =>
    forwardAuthConfig(app, `{ url: "${service.url}" }`),
  );
  try {
    const res = await request(gw.url, { path: '/app', headers: { 'x-request-id': 'not-loop' } });
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '1');
    assert.match(String(res.headers['proxy-status']), /^edge-1; error=destination_unavailable; /);
    assert.equal((await gw.logFor('not-loop')).auth, 'failed: destination_unavailable');
    assert.equal(echo.received.length, 0);
  } finally {
    await close(service);
  }
});
