/**
 * A route with `redirect:` answers itself: the Location keeps host, path and query on another
 * scheme or port, or is fixed; nothing reaches an upstream, and the log line is the gateway's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { redirectLocation } from '../../../src/proxy/route/redirect.ts';
import { rawRequest, request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

describe('redirects', () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
    gw = await startTestGateway(`routes:
  - match: { host: www.example.com }
    redirect: { scheme: https }
    response_headers: { set: { Strict-Transport-Security: max-age=300 } }
  - match: { host: alt.example.com }
    redirect: { port: 8443, status: 302 }
  - match: { path: /old }
    redirect: { location: "https://example.org/new", status: 301 }
  - match: { path: /secure }
    redirect: { scheme: https }
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`);
  });
  after(async () => {
    await gw.close();
    await app.close();
  });

  test('HTTP to HTTPS keeps host, path and query, drops the default port, and logs the gateway as the answer', async () => {
    const res = await request(gw.url, {
      path: '/a/b?x=1&y=%20',
      headers: { host: 'WWW.example.com:80' },
    });
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, 'https://www.example.com/a/b?x=1&y=%20');
    assert.equal(res.headers['content-length'], '0');
    assert.equal(res.headers['strict-transport-security'], 'max-age=300', 'the route’s response rules apply');
    assert.equal(res.headers['proxy-status'], undefined, 'a redirect is not an error');
    const line = await gw.logFor(String(res.headers['x-request-id']));
    assert.equal(line.status, 308);
    assert.equal(line.route, 'www.example.com/');
    assert.equal(line.upstream, undefined);
    assert.equal(line.attempts, 0);
    assert.equal(line.error, undefined);
    assert.equal(app.received.length, 0, 'nothing was forwarded');
  });

  test('a port of its own keeps the scheme; a fixed location ignores the request', async () => {
    const alt = await request(gw.url, { path: '/p?q', headers: { host: 'alt.example.com:8080' } });
    assert.equal(alt.status, 302);
    assert.equal(alt.headers.location, 'http://alt.example.com:8443/p?q');
    const old = await request(gw.url, { path: '/old/page?z' });
    assert.equal(old.status, 301);
    assert.equal(old.headers.location, 'https://example.org/new');
  });

  test('each redirect says its reason phrase in the status line (issue 32, item 8), as OPTIONS * does', async () => {
    const cases: [string, string][] = [
      ['www.example.com', 'HTTP/1.1 308 Permanent Redirect\r\n'],
      ['alt.example.com', 'HTTP/1.1 302 Found\r\n'],
    ];
    for (const [host, line] of cases) {
      const answer = await rawRequest(
        gw.port,
        `GET /a HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      assert.ok(answer.raw.startsWith(line), `${host}: ${JSON.stringify(answer.raw.slice(0, 40))}`);
    }
    const moved = await rawRequest(gw.port, 'GET /old HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.ok(moved.raw.startsWith('HTTP/1.1 301 Moved Permanently\r\n'), moved.raw.slice(0, 40));
    const options = await rawRequest(gw.port, 'OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.ok(options.raw.startsWith('HTTP/1.1 200 OK\r\n'), options.raw.slice(0, 40));
  });

  test('a 301 or 302 keeps its permanence but not a method change: other methods than GET and HEAD get 308 or 307', async () => {
    // RFC 9110 §15.4.2: after a 301 or 302 a user agent may send a POST again as a GET, its body
    // dropped: a form posted to the http:// address would reach the new one as a GET.
    const cases: [string, string, string, number][] = [
      ['GET', 'alt.example.com', '/p', 302],
      ['HEAD', 'alt.example.com', '/p', 302],
      ['POST', 'alt.example.com', '/p', 307],
      ['DELETE', 'alt.example.com', '/p', 307],
      ['GET', 'a', '/old', 301],
      ['HEAD', 'a', '/old', 301],
      ['POST', 'a', '/old', 308],
      ['PUT', 'a', '/old', 308],
      ['OPTIONS', 'a', '/old', 308],
      ['POST', 'www.example.com', '/x', 308],
    ];
    for (const [method, host, path, status] of cases) {
      const res = await request(gw.url, { method, path, headers: { host, 'content-length': '0' } });
      assert.equal(res.status, status, `${method} ${host}${path}`);
      assert.ok(res.headers.location, `${method} ${host}${path}: a location`);
      const line = await gw.logFor(String(res.headers['x-request-id']));
      assert.equal(line.status, status, `${method} ${host}${path}: the log says what was sent`);
    }
    assert.equal(app.received.length, 0, 'nothing was forwarded');
  });

  test('a POST with a body is redirected and its connection closed (the body is never read)', async () => {
    const answer = await rawRequest(
      gw.port,
      'POST /x HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 100000\r\n\r\npartial',
    );
    assert.equal(answer.status, 308);
    assert.match(answer.raw, /\r\nlocation: https:\/\/www\.example\.com\/x\r\n/i);
    assert.match(answer.raw, /\r\nconnection: close\r\n/i);
    assert.equal(answer.closed, true);
  });

  test('an encoded slash is kept in the Location, not refused: the redirect forwards nothing, the route it reaches judges it', async () => {
    // HTTP/1.1 and HTTP/2 alike: both go through the same route phase (protocol-parity.sockets.test.ts).
    const res = await request(gw.url, {
      path: '/objects/a%2fb%5C..?k=%2F',
      headers: { host: 'www.example.com' },
    });
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, 'https://www.example.com/objects/a%2Fb%5C..?k=%2F');
    assert.equal(app.received.length, 0, 'nothing was forwarded');
    // A route that forwards still refuses one.
    const forwarded = await request(gw.url, { path: '/objects/a%2Fb' });
    assert.equal(forwarded.status, 400);
  });

  test('a request with no Host to keep is refused with 400', async () => {
    const answer = await rawRequest(gw.port, 'GET /secure HTTP/1.0\r\n\r\n');
    assert.equal(answer.status, 400);
  });

  test('never an open redirect: a path that starts "//" stays a path on the host, an authority with userinfo is refused', async () => {
    const location = (raw: string) => /\r\nlocation: ([^\r]*)/i.exec(raw)?.[1];
    const slashes = await rawRequest(
      gw.port,
      'GET //evil.test/x?y HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n',
    );
    assert.equal(slashes.status, 308);
    assert.equal(location(slashes.raw), 'https://www.example.com/evil.test/x?y');
    for (const target of ['http://www.example.com@evil.test/x', 'http://www.example.com\\@evil.test/x']) {
      const answer = await rawRequest(
        gw.port,
        `GET ${target} HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(answer.status, 400, target);
      assert.equal(location(answer.raw), undefined, target);
    }
  });
});

test('redirectLocation: IPv6 hosts keep their brackets, the new scheme’s default port is left out', () => {
  const https = { kind: 'origin', scheme: 'https', status: 308 } as const;
  assert.equal(redirectLocation(https, 'http', '[::1]:8080', '/a'), 'https://[::1]/a');
  assert.equal(redirectLocation({ ...https, port: 443 }, 'http', 'h', '/'), 'https://h/');
  assert.equal(redirectLocation({ ...https, port: 8443 }, 'http', 'h:80', '/'), 'https://h:8443/');
  assert.equal(redirectLocation(https, 'http', '', '/'), undefined);
});

test('a gateway whose routes all redirect needs no upstreams section, and serves its redirects', async () => {
  const gw = await startTestGateway(`routes:
  - match: { path: /old }
    redirect: { location: "https://example.org/new", status: 301 }
`);
  try {
    const res = await request(gw.url, { path: '/old' });
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, 'https://example.org/new');
  } finally {
    await gw.close();
  }
});
