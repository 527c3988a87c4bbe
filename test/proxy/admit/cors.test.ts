/**
 * CORS on a route: the gateway answers preflights itself (also while the upstream is down),
 * and every answer to an allowed origin carries the CORS fields — the gateway's own 502 too,
 * with Proxy-Status and X-Request-Id exposed, so a browser app reads the real failure.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { startAuthService } from '../../helpers/auth-service.ts';
import { rawRequest, request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

function config(down: string, up: string): string {
  return `name: edge-1
routes:
  - name: api
    match: { path: /api }
    upstream: down
    cors:
      origins: [https://app.example.com, "https://*.apps.example.com"]
      methods: [GET, POST, DELETE]
      headers: [Content-Type, X-Api-Key]
      expose_headers: [X-Total-Count]
      max_age: 10m
  - name: session
    match: { path: /session }
    upstream: up
    cors:
      origins: [https://app.example.com]
      credentials: true
  - name: public
    match: { path: /public }
    upstream: up
    cors:
      origins: ["*"]
upstreams:
  down:
    targets:
      - url: ${down}
  up:
    targets:
      - url: ${up}
`;
}

const PREFLIGHT_VARY = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';
const EXPOSED = 'X-Total-Count, Proxy-Status, X-Request-Id, Retry-After, WWW-Authenticate';

test('a preflight from an allowed origin is answered 204 by the gateway while the upstream is down', async () => {
  const down = await startRefusing();
  const echo = await startEcho();
  const gw = await startTestGateway(config(down.url, echo.url));
  try {
    const res = await request(gw.url, {
      method: 'OPTIONS',
      path: '/api/orders/7',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'DELETE',
        'access-control-request-headers': 'x-api-key, content-type',
        'x-request-id': 'pre-ok',
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(res.headers['access-control-allow-methods'], 'GET, POST, DELETE');
    assert.equal(res.headers['access-control-allow-headers'], 'content-type, x-api-key');
    assert.equal(res.headers['access-control-max-age'], '600');
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    assert.equal(res.headers['access-control-expose-headers'], undefined);
    assert.equal(res.headers.vary, PREFLIGHT_VARY);
    assert.equal(res.headers['content-length'], undefined, 'a 204 has no Content-Length');
    assert.equal(res.text, '');
    const line = await gw.logFor('pre-ok');
    assert.equal(line.status, 204);
    assert.equal(line.auth, 'allowed');
    assert.equal(line.error, undefined);
    assert.equal(down.received.length, 0);

    // A subdomain of the wildcard, at any depth; not the bare domain, not a look-alike.
    const preflight = (origin: string) =>
      request(gw.url, {
        method: 'OPTIONS',
        path: '/api',
        headers: { origin, 'access-control-request-method': 'GET' },
      });
    assert.equal((await preflight('https://a.apps.example.com')).status, 204);
    assert.equal(
      (await preflight('https://x.y.apps.example.com')).headers['access-control-allow-origin'],
      'https://x.y.apps.example.com',
    );
    for (const origin of [
      'https://apps.example.com',
      'https://evilapps.example.com',
      'http://a.apps.example.com',
      'https://a.apps.example.com.evil.test',
      'https://a.apps.example.com:8443',
      'null',
    ])
      assert.equal((await preflight(origin)).status, 403, origin);
  } finally {
    await gw.close();
    await echo.close();
    await down.close();
  }
});

test('a preflight for another origin, method or header is refused 403 without CORS fields; the log says which', async () => {
  const down = await startRefusing();
  const echo = await startEcho();
  const gw = await startTestGateway(config(down.url, echo.url));
  try {
    const cases = [
      ['https://evil.example', 'GET', '', 'denied: cors origin "https://evil.example" not allowed'],
      ['https://app.example.com', 'PUT', '', 'denied: cors method "PUT" not allowed'],
      ['https://app.example.com', 'GET', 'x-api-key, x-admin', 'denied: cors header "x-admin" not allowed'],
    ] as const;
    for (const [i, [origin, method, fields, note]] of cases.entries()) {
      const res = await request(gw.url, {
        method: 'OPTIONS',
        path: '/api',
        headers: {
          origin,
          'access-control-request-method': method,
          ...(fields ? { 'access-control-request-headers': fields } : {}),
          'x-request-id': `pre-no-${i}`,
        },
      });
      assert.equal(res.status, 403);
      assert.equal(
        res.headers['proxy-status'],
        'edge-1; error=http_request_denied; details="this cross-origin request is not allowed on this route"',
      );
      assert.equal(res.headers['access-control-allow-methods'], undefined);
      // An allowed origin reads the refusal; another gets no CORS field at all.
      assert.equal(
        res.headers['access-control-allow-origin'],
        origin === 'https://evil.example' ? undefined : origin,
      );
      assert.equal((await gw.logFor(`pre-no-${i}`)).auth, note);
    }
    assert.equal(down.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
    await down.close();
  }
});

test("the gateway's own 502 carries the CORS fields for an allowed origin, Proxy-Status and X-Request-Id exposed", async () => {
  const down = await startRefusing();
  const echo = await startEcho();
  const gw = await startTestGateway(config(down.url, echo.url));
  try {
    const res = await request(gw.url, {
      path: '/api/orders',
      headers: { origin: 'https://app.example.com', accept: 'application/json' },
    });
    assert.equal(res.status, 502);
    assert.match(String(res.headers['proxy-status']), /^edge-1; error=connection_refused; /);
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(res.headers['access-control-expose-headers'], EXPOSED);
    assert.equal(res.headers.vary, 'Accept, Origin');

    const other = await request(gw.url, { path: '/api/orders', headers: { origin: 'https://evil.example' } });
    assert.equal(other.status, 502);
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    assert.equal(other.headers['access-control-expose-headers'], undefined);
    assert.equal(other.headers.vary, 'Accept, Origin', 'the answer depends on Origin all the same');
  } finally {
    await gw.close();
    await echo.close();
    await down.close();
  }
});

test("the upstream's answer gets the route's CORS fields in place of its own; credentials answer with the origin", async () => {
  const upstream = http.createServer((req, res) => {
    res.writeHead(200, {
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'PATCH',
      vary: 'Accept-Encoding',
      'content-type': 'text/plain',
    });
    res.end(`saw origin ${req.headers.origin}`);
  });
  const port = await listenLoopback(upstream);
  const down = await startRefusing();
  const gw = await startTestGateway(config(down.url, `http://127.0.0.1:${port}`));
  try {
    const res = await request(gw.url, { path: '/session', headers: { origin: 'https://app.example.com' } });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'saw origin https://app.example.com', 'the request goes on as sent');
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(
      res.headers['access-control-allow-methods'],
      'PATCH',
      "a preflight field on an answer is no one's concern",
    );
    assert.equal(
      res.headers['access-control-expose-headers'],
      'Proxy-Status, X-Request-Id, Retry-After, WWW-Authenticate',
    );
    assert.equal(res.headers.vary, 'Accept-Encoding, Origin');
    const count = res.rawHeaders.filter((name) => name.toLowerCase() === 'access-control-allow-origin');
    assert.equal(count.length, 1);

    const any = await request(gw.url, { path: '/public', headers: { origin: 'https://anyone.test' } });
    assert.equal(any.headers['access-control-allow-origin'], '*');
    const none = await request(gw.url, { path: '/public' });
    assert.equal(none.headers['access-control-allow-origin'], undefined, 'no Origin: no CORS fields');
    assert.equal(none.headers.vary, 'Accept-Encoding, Origin');
  } finally {
    await gw.close();
    await down.close();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

test('a preflight meets the route its request would: a route matching PUT and DELETE only answers their preflights', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: writes
    match: { path: /items, methods: [PUT, DELETE] }
    upstream: app
    cors:
      origins: [https://app.example.com]
      methods: [PUT, DELETE]
  - name: reads
    match: { path: /items }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  const preflight = (method: string, id: string) =>
    request(gw.url, {
      method: 'OPTIONS',
      path: '/items/3',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': method,
        'x-request-id': id,
      },
    });
  try {
    const put = await preflight('PUT', 'pre-put');
    assert.equal(put.status, 204);
    assert.equal(put.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(put.headers['access-control-allow-methods'], 'PUT, DELETE');
    assert.equal((await gw.logFor('pre-put')).route, 'writes');
    // A GET's preflight is the reads route's, which has no CORS rules: the upstream's to answer.
    const get = await preflight('GET', 'pre-get');
    assert.equal(get.status, 200);
    assert.equal((await gw.logFor('pre-get')).route, 'reads');
    assert.equal(echo.received.length, 1, 'only the GET preflight went upstream');
    assert.equal(echo.received[0].method, 'OPTIONS');
    // A plain OPTIONS (no Access-Control-Request-Method) is not a preflight: it stays a request.
    const plain = await request(gw.url, {
      method: 'OPTIONS',
      path: '/items/3',
      headers: { origin: 'https://app.example.com' },
    });
    assert.equal(plain.status, 200);
    assert.equal(echo.received.length, 2);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('"*" in cors.methods or cors.headers allows what a preflight asks, answered with what it asked (credentials too)', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: open
    match: { path: /open }
    upstream: app
    cors:
      origins: [https://app.example.com]
      methods: ["*"]
      headers: ["*"]
      credentials: true
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  try {
    const res = await request(gw.url, {
      method: 'OPTIONS',
      path: '/open',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'PATCH',
        'access-control-request-headers': 'authorization,x-trace-tag',
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-methods'], 'PATCH');
    assert.equal(res.headers['access-control-allow-headers'], 'authorization, x-trace-tag');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a preflight for GET, HEAD or POST passes whatever cors.methods lists: a browser sends those without asking', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: api
    match: { path: /api }
    upstream: app
    cors:
      origins: [https://app.example.com]
      methods: [PUT]
      headers: [X-Api-Key]
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  const preflight = (method: string) =>
    request(gw.url, {
      method: 'OPTIONS',
      path: '/api',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': method,
        'access-control-request-headers': 'x-api-key',
      },
    });
  try {
    for (const method of ['GET', 'HEAD', 'POST', 'PUT']) {
      const res = await preflight(method);
      assert.equal(res.status, 204, method);
      assert.equal(res.headers['access-control-allow-methods'], 'PUT');
    }
    assert.equal((await preflight('DELETE')).status, 403);
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('the access answers have their reason phrases: 204 No Content, 401 Unauthorized, 403 Forbidden (also a forward-auth refusal passed on)', async () => {
  const echo = await startEcho();
  const service = await startAuthService((_req, res) => res.writeHead(401).end());
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: browser
    match: { path: /browser }
    upstream: app
    cors: { origins: [https://app.example.com] }
    auth:
      forward: { url: "${service.url}" }
  - name: closed
    match: { path: /closed }
    upstream: app
    deny: [127.0.0.0/8]
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  const statusLine = async (head: string) =>
    (await rawRequest(gw.port, `${head}\r\nHost: x\r\nConnection: close\r\n\r\n`)).raw.split('\r\n')[0];
  try {
    const preflight = 'OPTIONS /browser HTTP/1.1\r\nAccess-Control-Request-Method: GET';
    assert.equal(
      await statusLine(`${preflight}\r\nOrigin: https://app.example.com`),
      'HTTP/1.1 204 No Content',
    );
    assert.equal(await statusLine(`${preflight}\r\nOrigin: https://evil.example`), 'HTTP/1.1 403 Forbidden');
    assert.equal(await statusLine('GET /closed HTTP/1.1'), 'HTTP/1.1 403 Forbidden');
    assert.equal(await statusLine('GET /browser HTTP/1.1'), 'HTTP/1.1 401 Unauthorized');
  } finally {
    await gw.close();
    await echo.close();
    await service.close();
  }
});

test('a preflight is the CORS route’s to answer beside a route for OPTIONS, whichever the file lists first', async () => {
  const echo = await startEcho();
  const options = `  - name: options
    match: { path: /items, methods: [OPTIONS] }
    upstream: app
`;
  const cors = `  - name: api
    match: { path: /items, methods: [GET, PUT] }
    upstream: app
    cors:
      origins: [https://app.example.com]
      methods: [PUT]
`;
  const upstreams = `upstreams:
  app:
    targets:
      - url: ${echo.url}
`;
  try {
    for (const routes of [options + cors, cors + options]) {
      const gw = await startTestGateway(`name: edge-1\nroutes:\n${routes}${upstreams}`);
      const ask = (id: string, headers: Record<string, string>) =>
        request(gw.url, { method: 'OPTIONS', path: '/items/3', headers: { ...headers, 'x-request-id': id } });
      try {
        const sent = echo.received.length;
        const put = await ask('put', {
          origin: 'https://app.example.com',
          'access-control-request-method': 'PUT',
        });
        assert.equal(put.status, 204);
        assert.equal(put.headers['access-control-allow-origin'], 'https://app.example.com');
        assert.equal(put.headers['access-control-allow-methods'], 'PUT');
        assert.equal((await gw.logFor('put')).route, 'api');
        // Another origin is the CORS route's to refuse: its rules say no, not the upstream.
        const other = await ask('other', {
          origin: 'https://evil.example',
          'access-control-request-method': 'PUT',
        });
        assert.equal(other.status, 403);
        assert.equal(other.headers['access-control-allow-origin'], undefined);
        assert.equal((await gw.logFor('other')).route, 'api');
        assert.equal(
          echo.received.length,
          sent,
          'no preflight for a request the CORS route takes went upstream',
        );
        // A DELETE is no request of the CORS route's: its preflight is an OPTIONS like another.
        const del = await ask('delete', {
          origin: 'https://app.example.com',
          'access-control-request-method': 'DELETE',
        });
        assert.equal(del.status, 200);
        assert.equal((await gw.logFor('delete')).route, 'options');
        const plain = await ask('plain', { origin: 'https://app.example.com' });
        assert.equal(plain.status, 200);
        assert.equal((await gw.logFor('plain')).route, 'options');
        assert.equal(echo.received.length, sent + 2);
      } finally {
        await gw.close();
      }
    }
  } finally {
    await echo.close();
  }
});
