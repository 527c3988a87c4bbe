/**
 * An auth service that answers 429 (it throttles this client: too many attempts) has decided on
 * the request, as its 401 and 403 have: the client gets that answer as the service wrote it, its
 * Retry-After included, with this gateway's Proxy-Status http_request_denied, and it is never
 * kept with `cache` (it holds for a while, not for a session). It was the hop's 502
 * http_protocol_error, whose page says the auth service answered something that is not HTTP and
 * that retrying will not help: both untrue of a well-formed 429.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardAuthConfig, startAuthService, startAuthStage } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';

test("an auth service's 429 reaches the client as it wrote it, with its Retry-After; never kept, nothing upstream", async () => {
  const service = await startAuthService((_req, res) => {
    res.writeHead(429, { 'retry-after': '30', 'content-type': 'text/plain' }).end('slow down');
  });
  const { gw, echo, close } = await startAuthStage((app) =>
    forwardAuthConfig(app, `{ url: "${service.url}", cache: { key: "cookie:session", ttl: 1h } }`),
  );
  try {
    for (const id of ['t-1', 't-2']) {
      const res = await request(gw.url, {
        path: '/app',
        headers: { cookie: 'session=s-1', 'x-request-id': id, accept: 'application/json' },
      });
      assert.equal(res.status, 429);
      assert.equal(res.headers['retry-after'], '30');
      assert.equal(res.headers['content-type'], 'text/plain');
      assert.equal(res.text, 'slow down');
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(
        res.headers['proxy-status'],
        'edge-1; error=http_request_denied; details="the auth service refused this request for now"',
      );
      const line = await gw.logFor(id);
      assert.equal(line.auth, 'denied: forward 429');
      assert.equal(line.status, 429);
    }
    assert.equal(service.asked.length, 2, 'a 429 is not kept');
    assert.equal(echo.received.length, 0);
  } finally {
    await close(service);
  }
});
