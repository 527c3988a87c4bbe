/**
 * An auth service that answers in good HTTP a status that is no verdict (neither a 2xx that lets
 * the request in nor a 401, 403, 429 or redirect that refuses it: a 404 from a wrong path, a 407,
 * a 418) is the hop's 502 http_protocol_error, its details naming that status. What the client
 * is told (the problem's title and detail, the page, the text) no longer says the service sent
 * something that is not HTTP: it spoke HTTP, and its answer was not one the gateway can use.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardAuthConfig, startAuthService, startAuthStage } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';

const TITLE = "Upstream's answer is not one the gateway can use";
const EXPLANATION = 'the upstream answered in HTTP, but not with an answer the gateway can use';

test('a real auth service answering 404, 407 or 418: a 502 http_protocol_error naming the status, never "not HTTP"', async () => {
  let status = 404;
  const service = await startAuthService((_req, res) => {
    res.writeHead(status, { 'content-type': 'text/html' }).end('<h1>whatever</h1>');
  });
  const { gw, echo, close } = await startAuthStage((app) =>
    forwardAuthConfig(app, `{ url: "${service.url}/wrong-path" }`),
  );
  try {
    for (status of [404, 407, 418]) {
      const details = `the auth service: it answered ${status}, neither 2xx, 401, 403, 429 nor a redirect`;
      const detail = `The gateway "edge-1" is working, but the upstream "auth:forward" failed: ${EXPLANATION} (${details}).`;
      const json = await request(gw.url, {
        path: '/app',
        headers: { accept: 'application/json', 'x-request-id': `json-${status}` },
      });
      assert.equal(json.status, 502);
      assert.equal(
        json.headers['proxy-status'],
        `edge-1; error=http_protocol_error; details="${details}"; next-hop="auth:forward"`,
      );
      assert.equal(json.headers['content-type'], 'application/problem+json');
      assert.equal(json.headers['cache-control'], 'no-store');
      const problem = JSON.parse(json.text);
      assert.equal(problem.type, 'urn:candor:error:http_protocol_error');
      assert.equal(problem.title, TITLE);
      assert.equal(problem.detail, detail);
      assert.equal(problem.details, details);
      assert.equal(problem.retryable, false);
      const line = await gw.logFor(`json-${status}`);
      assert.equal(line.status, 502);
      assert.equal(line.error, 'http_protocol_error');
      assert.equal(line.details, details);
      assert.equal(line.auth, 'failed: http_protocol_error');

      const html = await request(gw.url, { path: '/app', headers: { accept: 'text/html' } });
      assert.equal(html.status, 502);
      assert.match(
        html.text,
        /<title>502 Bad Gateway · Upstream&#39;s answer is not one the gateway can use<\/title>/,
      );
      assert.doesNotMatch(html.text, /not HTTP|not with a valid HTTP/);

      const text = await request(gw.url, { path: '/app', headers: { accept: 'text/plain' } });
      assert.equal(text.status, 502);
      assert.equal(text.text.split('\n')[0], `502 Bad Gateway: ${TITLE}`);
      assert.equal(text.text.split('\n')[2], detail);
    }
    assert.equal(echo.received.length, 0);
  } finally {
    await close(service);
  }
});
