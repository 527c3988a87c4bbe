/**
 * A route's header rules on real sockets: what the upstream receives, what the client gets
 * back from the upstream and from the gateway itself (errors), and what no rule can touch.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { applyHeaderRules } from '../../../src/proxy/forward/header-rules.ts';
import { request } from '../../helpers/http-client.ts';
import { type LoopbackServer, listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

describe('header rules', () => {
  let app: Fault;
  let leaky: LoopbackServer;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
    leaky = await listenOnLoopback((_req, res) => {
      res.setHeader('server', 'leaky/1.0');
      res.setHeader('x-powered-by', 'php');
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.end('ok');
    });
    // Loopback is trusted so the client's X-Request-Id is kept and {request_id} shows it.
    gw = await startTestGateway(`trust_forwarded_from: [127.0.0.1]
routes:
  - match: { path: /app }
    upstream: app
    request_headers:
      set: { X-Env: prod, X-Id: "req={request_id} from {client_ip} for {host} {{literal}}", Host: internal.example }
      add: { X-Tag: added }
      remove: [X-Debug, Cookie]
  - match: { path: /leaky }
    upstream: leaky
    response_headers:
      set: { Server: candor-fronted }
      add: { Set-Cookie: c=3 }
      remove: [X-Powered-By]
  - match: { path: /down }
    upstream: down
    response_headers:
      set: { X-Frame-Options: DENY, Expires: "Thu, 01 Dec 2094 16:00:00 GMT", Content-Type: text/css }
      remove: [Cache-Control]
  - match: { path: /assets }
    upstream: app
    response_headers:
      set: { Cache-Control: "public, max-age=31536000, immutable", CDN-Cache-Control: max-age=600 }
      remove: [Retry-After]
    maintenance: { retry_after: 30s }
  - match: { path: /downloads }
    upstream: down
    # Precompressed files from an upstream that sends no Content-Encoding, offered as downloads.
    response_headers:
      set: { Content-Encoding: gzip, Content-Disposition: 'attachment; filename="app.tar"' }
  - match: { path: /site }
    upstream: down
    # A site's own policy and caching key, meant for its pages.
    response_headers:
      set: { Vary: Cookie, Content-Security-Policy: "default-src *; script-src 'unsafe-inline'" }
  - match: { path: /bare }
    upstream: down
    response_headers:
      remove: [Vary, Content-Security-Policy]
upstreams:
  app:
    targets: [{ url: ${app.url} }]
  leaky:
    targets: [{ url: ${leaky.url} }]
  down:
    targets: [{ url: http://127.0.0.1:1 }]
    retries: { attempts: 1 }
`);
  });
  after(async () => {
    await gw.close();
    await app.close();
    await leaky.close();
  });

  test('request rules: set replaces, add keeps the client’s, remove drops; variables are filled in', async () => {
    const res = await request(gw.url, {
      path: '/app',
      headers: {
        host: 'API.example.com:8080',
        'x-env': 'dev',
        'x-tag': 'client',
        'x-debug': '1',
        cookie: 'session=secret',
        'x-request-id': 'abc-123',
      },
    });
    assert.equal(res.status, 200);
    const seen = app.received.at(-1);
    assert.ok(seen);
    assert.equal(seen.headers['x-env'], 'prod');
    assert.equal(seen.headers['x-id'], 'req=abc-123 from 127.0.0.1 for api.example.com {literal}');
    assert.equal(seen.headers.host, 'internal.example');
    assert.deepEqual(
      seen.rawHeaders.filter(([name]) => name.toLowerCase() === 'x-tag').map(([, v]) => v),
      ['client', 'added'],
    );
    assert.equal(seen.headers['x-debug'], undefined);
    assert.equal(seen.headers.cookie, undefined);
    assert.equal(
      seen.headers['x-forwarded-host'],
      'API.example.com:8080',
      'Candor’s own fields are as always',
    );
    assert.equal(seen.headers['x-request-id'], 'abc-123');
  });

  // As nginx's realip makes $remote_addr: set: { X-Real-IP: "{client_ip}" } names the user behind a trusted balancer.
  test('{client_ip} behind a trusted proxy is the client it vouches for (X-Forwarded-For, else Forwarded)', async () => {
    const ask = async (headers: Record<string, string>) => {
      assert.equal(
        (await request(gw.url, { path: '/app', headers: { host: 'a.example', ...headers } })).status,
        200,
      );
      return app.received.at(-1)?.headers['x-id'];
    };
    assert.match(String(await ask({ 'x-forwarded-for': '203.0.113.7' })), / from 203\.0\.113\.7 for /);
    assert.match(String(await ask({ forwarded: 'for="[2001:db8::7]:4711"' })), / from 2001:db8::7 for /);
    assert.match(String(await ask({})), / from 127\.0\.0\.1 for /, 'no word from the proxy: the peer');
  });

  // X_Env is X-Env to a CGI-style app (WSGI, Rack: HTTP_X_ENV): the client's went on beside the
  // value `set` wrote, or past `remove` (Puma before 6.4.3 took the client's: CVE-2024-45614).
  test('request rules: set and remove take the client’s field spelled with _ (X_Env, X_Debug) out too', async () => {
    const res = await request(gw.url, {
      path: '/app',
      headers: { x_env: 'dev', 'x-env': 'dev', x_debug: '1', 'x-debug_': 'kept', x_tag: 'client' },
    });
    assert.equal(res.status, 200);
    const seen = app.received.at(-1);
    assert.ok(seen);
    const named = seen.rawHeaders.filter(([name]) => /^x[-_](env|debug|tag)/i.test(name));
    assert.deepEqual(named, [
      ['x-debug_', 'kept'],
      ['x_tag', 'client'],
      ['X-Env', 'prod'],
      ['X-Tag', 'added'],
    ]);
  });

  test('response rules apply to the upstream’s answer', async () => {
    const res = await request(gw.url, { path: '/leaky' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.server, 'candor-fronted');
    assert.equal(res.headers['x-powered-by'], undefined);
    assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2', 'c=3']);
  });

  test('response rules apply to the gateway’s own errors, but for what says what the answer is: Proxy-Status, its type, no-store, Retry-After', async () => {
    const res = await request(gw.url, { path: '/down', headers: { accept: 'application/json' } });
    assert.equal(res.status, 502);
    assert.equal(res.headers['x-frame-options'], 'DENY');
    // DESIGN: every gateway-made error carries Cache-Control: no-store; its body is problem+json.
    assert.equal(res.headers['cache-control'], 'no-store', 'a failure is no answer to keep');
    assert.equal(res.headers.expires, undefined);
    assert.equal(res.headers['content-type'], 'application/problem+json');
    assert.equal(JSON.parse(res.text).error, 'connection_refused');
    assert.match(
      String(res.headers['proxy-status']),
      /^candor; error=connection_refused; details="connection refused \(ECONNREFUSED\) after [0-9.]+ ms"; next-hop="down"$/,
    );
  });

  test('a route’s caching rules for its answers never make its 503 one a cache keeps, nor take its Retry-After', async () => {
    const res = await request(gw.url, { path: '/assets/app.js' });
    assert.equal(res.status, 503);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['cdn-cache-control'], undefined);
    assert.equal(res.headers['retry-after'], '30');
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  });

  test('a route’s rules on what its files are (Content-Encoding, Content-Disposition) do not reach its error page, which is neither', async () => {
    for (const method of ['GET', 'HEAD']) {
      const res = await request(gw.url, {
        method,
        path: '/downloads/app.tar.gz',
        headers: { accept: 'text/html' },
      });
      assert.equal(res.status, 502);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      // A browser would fail to gunzip the page (ERR_CONTENT_DECODING_FAILED), or save it as app.tar.
      assert.equal(res.headers['content-encoding'], undefined);
      assert.equal(res.headers['content-disposition'], undefined);
      if (method === 'GET') assert.match(res.text, /^<!doctype html>/);
    }
  });

  test('a route’s Vary and Content-Security-Policy rules neither hide that its error body varies by Accept nor loosen its page’s policy', async () => {
    for (const path of ['/site/a', '/bare/a']) {
      const page = await request(gw.url, { path, headers: { accept: 'text/html' } });
      assert.equal(page.status, 502);
      // README: every error the gateway makes carries Vary: Accept (its body is chosen by it);
      // a rule's own Vary stays beside it.
      const vary = String(page.headers.vary ?? '');
      assert.match(vary, /(^|, *)Accept(,|$)/, `${path}: Vary ${vary}`);
      if (path === '/site/a') assert.match(vary, /Cookie/);
      // docs/hostile-peers.md: the built-in page comes with its policy, so a missed escape runs nothing.
      assert.equal(
        page.headers['content-security-policy'],
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
        path,
      );
      // A body that is no page (problem+json) has no policy of its own: the route's reaches it.
      const json = await request(gw.url, { path, headers: { accept: 'application/json' } });
      assert.match(
        String(json.headers.vary ?? ''),
        /(^|, *)Accept(,|$)/,
        `${path}: Vary ${json.headers.vary}`,
      );
      assert.equal(
        json.headers['content-security-policy'],
        path === '/site/a' ? "default-src *; script-src 'unsafe-inline'" : undefined,
      );
    }
  });
});

test('applyHeaderRules returns a new list and leaves the one given alone', () => {
  const given = ['A', '1', 'b', '2', 'a', '3'];
  const out = applyHeaderRules(
    given,
    { set: [{ name: 'A', lower: 'a', value: ['x'] }], add: [], remove: ['b'] },
    { requestId: 'r', clientIp: 'c', host: 'h' },
  );
  assert.deepEqual(out, ['A', 'x']);
  assert.deepEqual(given, ['A', '1', 'b', '2', 'a', '3']);
});
