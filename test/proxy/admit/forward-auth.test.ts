/**
 * Forward authentication: an auth service asked about each request. Its 2xx lets the request
 * in with the fields it chose; its 401 and 403 are the client's; its failing is the auth hop's
 * 502/503/504 with next-hop="auth:HOST", never a 401.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

async function startAuthService() {
  const asked: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    asked.push(req.headers);
    const auth = req.headers.authorization;
    if (auth === 'Bearer good') return res.writeHead(204, { 'x-user-id': 'u-1', 'x-secret': 'no' }).end();
    if (auth === 'Bearer readonly') return res.writeHead(403).end('no');
    if (auth === 'Bearer broken') return res.writeHead(500).end('oops');
    if (auth === 'Bearer moved') return res.writeHead(302, { location: '/login' }).end();
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="sso"' }).end('who?');
  });
  const port = await listenLoopback(server);
  return {
    asked,
    url: `http://127.0.0.1:${port}/check`,
    host: `127.0.0.1:${port}`,
    close: () => new Promise((r) => server.close(r)),
  };
}

function config(upstream: string, auth: string): string {
  return `name: edge-1
routes:
  - name: app
    match: { path: /app }
    upstream: app
    auth:
      forward: { url: "${auth}", copy_headers: [X-User-Id] }
upstreams:
  app:
    targets:
      - url: ${upstream}
`;
}

test('the auth service decides: 2xx in with its fields, 401 and 403 passed on, 5xx or another answer is the hop failing', async () => {
  const service = await startAuthService();
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url, service.url));
  try {
    const ok = await request(gw.url, {
      path: '/app/x?y=1',
      headers: {
        authorization: 'Bearer good',
        'x-user-id': 'forged',
        cookie: 'a=b',
        'x-request-id': 'fw-ok',
      },
    });
    assert.equal(ok.status, 200);
    const seen = echo.received[0];
    assert.equal(seen.headers['x-user-id'], 'u-1');
    assert.equal(seen.headers['x-secret'], undefined, 'only copy_headers go upstream');
    assert.equal(seen.headers.authorization, undefined);
    const asked = service.asked[0];
    assert.equal(asked.authorization, 'Bearer good');
    assert.equal(asked.cookie, 'a=b');
    assert.equal(asked['x-forwarded-method'], 'GET');
    assert.equal(asked['x-forwarded-uri'], '/app/x?y=1');
    assert.equal(asked['x-forwarded-for'], '127.0.0.1');
    assert.equal((await gw.logFor('fw-ok')).auth, 'allowed');

    const who = await request(gw.url, { path: '/app', headers: { 'x-request-id': 'fw-401' } });
    assert.equal(who.status, 401);
    assert.equal(who.headers['www-authenticate'], 'Bearer realm="sso"');
    const denied = await gw.logFor('fw-401');
    assert.equal(denied.auth, 'denied: forward 401');
    // Candor's own flag for an access refusal: RL would say rate limited (Envoy's meaning).
    assert.equal(denied.flag, 'AD');
    const no = await request(gw.url, { path: '/app', headers: { authorization: 'Bearer readonly' } });
    assert.equal(no.status, 403);

    const broken = await request(gw.url, {
      path: '/app',
      headers: { authorization: 'Bearer broken', 'x-request-id': 'fw-500' },
    });
    assert.equal(broken.status, 503);
    assert.equal(
      broken.headers['proxy-status'],
      `edge-1; error=destination_unavailable; details="the auth service: it answered 500"; next-hop="auth:${service.host}"`,
    );
    assert.equal((await gw.logFor('fw-500')).auth, 'failed: destination_unavailable');
    const moved = await request(gw.url, { path: '/app', headers: { authorization: 'Bearer moved' } });
    assert.equal(moved.status, 502);
    assert.match(
      String(moved.headers['proxy-status']),
      /error=http_protocol_error; details="the auth service: it answered 302/,
    );
    assert.equal(echo.received.length, 1);
  } finally {
    await gw.close();
    await echo.close();
    await service.close();
  }
});

test('an auth service that cannot be reached is a 502 connection_refused of the auth hop, never a 401', async () => {
  const refusing = await startRefusing();
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url, `${refusing.url}/check`));
  try {
    const res = await request(gw.url, { path: '/app', headers: { authorization: 'Bearer good' } });
    assert.equal(res.status, 502);
    assert.match(
      String(res.headers['proxy-status']),
      new RegExp(
        `^edge-1; error=connection_refused; details="the auth service: .*"; next-hop="auth:127.0.0.1:${refusing.port}"$`,
      ),
    );
    assert.equal(res.headers['www-authenticate'], undefined);
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
    await refusing.close();
  }
});

test('an auth service that does not answer within its timeout is a 504 http_response_timeout of the auth hop', async () => {
  const hanging = http.createServer(() => {});
  const port = await listenLoopback(hanging);
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: app
    match: { path: /app }
    upstream: app
    auth:
      forward: { url: "http://127.0.0.1:${port}/check", timeout: 200ms }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  try {
    const res = await request(gw.url, { path: '/app', headers: { 'x-request-id': 'fw-slow' } });
    assert.equal(res.status, 504);
    assert.equal(
      res.headers['proxy-status'],
      `edge-1; error=http_response_timeout; details="the auth service: no answer within 0.2 s"; next-hop="auth:127.0.0.1:${port}"`,
    );
    assert.equal((await gw.logFor('fw-slow')).auth, 'failed: http_response_timeout');
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
    hanging.closeAllConnections();
    await new Promise((resolve) => hanging.close(resolve));
  }
});
