/**
 * An auth service's refusal passed on keeps the fields that say what it is (its challenge, its
 * body's type, its Retry-After) however the service spells their names: Go's net/http, which
 * Authelia, oauth2-proxy and most auth services are written on, sends `Www-Authenticate`,
 * `Content-Type` and `Retry-After` in its canonical case, nginx `WWW-Authenticate`. On a route
 * whose answers are edited (its CORS rules, its response rules), those fields were read back by
 * their lower-case names only, so a service's 401 reached the client with no challenge at all
 * (RFC 9110 §15.5.2: a 401 MUST carry one), its login page without its type, and its 429 without
 * when to come back. Raw service, real gateway; nothing reaches the upstream.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const ANSWERS: Record<string, string> = {
  '/cors/401':
    'HTTP/1.1 401 Unauthorized\r\nWww-Authenticate: Basic realm="sso"\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 7\r\n\r\n<p>who?',
  '/cors/429': 'HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Length: 0\r\n\r\n',
  '/rules/401':
    'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="sso"\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n',
  '/rules/429': 'HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Length: 0\r\n\r\n',
};

test('a forward-auth refusal on a route with CORS or response rules keeps the service’s Www-Authenticate, Content-Type and Retry-After in any case', async () => {
  // The service answers by the path it is told the client asked for (X-Forwarded-Uri).
  const service = await scriptedUpstream((socket, req) => {
    const uri = /\r\nx-forwarded-uri: ([^\r]*)/i.exec(req.head)?.[1] ?? '';
    socket.write(ANSWERS[uri] ?? 'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n');
  });
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /cors }
    upstream: app
    cors: { origins: ["https://app.test"] }
    auth: { forward: { url: "${service.url}/check" } }
  - match: { path: /rules }
    upstream: app
    response_headers: { set: { X-Frame-Options: DENY } }
    auth: { forward: { url: "${service.url}/check" } }
upstreams:
  app:
    targets: [{ url: "${echo.url}" }]
`);
  try {
    for (const origin of [{ origin: 'https://app.test' }, {}]) {
      const refused = await request(gw.url, { path: '/cors/401', headers: origin });
      assert.equal(refused.status, 401);
      assert.equal(refused.headers['www-authenticate'], 'Basic realm="sso"');
      assert.equal(refused.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(refused.headers['cache-control'], 'no-store');
      assert.equal(refused.text, '<p>who?');
      assert.equal(refused.headers.vary, 'Origin');
      const throttled = await request(gw.url, { path: '/cors/429', headers: origin });
      assert.equal(throttled.status, 429);
      assert.equal(throttled.headers['retry-after'], '30');
    }
    const refused = await request(gw.url, { path: '/rules/401' });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['www-authenticate'], 'Bearer realm="sso"');
    assert.equal(refused.headers['content-type'], 'text/html');
    assert.equal(refused.headers['x-frame-options'], 'DENY');
    const throttled = await request(gw.url, { path: '/rules/429' });
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers['retry-after'], '30');
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
    await service.close();
  }
});
