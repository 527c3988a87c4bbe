/**
 * Forward authentication: an auth service asked about each request. Its 2xx lets the request
 * in with the fields it chose; its 401, 403 and redirects are the client's as it wrote them; its
 * failing is the auth hop's 502/503/504 with next-hop="auth:forward" (its address only where exposed), never a 401.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { forwardAuthConfig, startAuthService, startAuthStage } from '../../helpers/auth-service.ts';
import { rawRequest, request } from '../../helpers/http-client.ts';

function startDecidingService() {
  return startAuthService((req, res) => {
    const auth = req.headers.authorization;
    if (auth === 'Bearer good') return res.writeHead(204, { 'x-user-id': 'u-1', 'x-secret': 'no' }).end();
    if (auth === 'Bearer readonly') return res.writeHead(403, { 'content-type': 'text/plain' }).end('no');
    if (auth === 'Bearer broken') return res.writeHead(500).end('oops');
    if (auth === 'Bearer moved')
      return res.writeHead(302, { location: '/login', 'set-cookie': 'next=/app' }).end('to the login');
    if (auth === 'Bearer lost') return res.writeHead(404).end('not here');
    if (auth === 'Bearer bare') return res.writeHead(401).end();
    res
      .writeHead(401, { 'www-authenticate': 'Bearer realm="sso"', 'content-type': 'text/plain' })
      .end('who?');
  });
}

const guarded = (auth: string) => (app: string) =>
  forwardAuthConfig(app, `{ url: "${auth}", copy_headers: [X-User-Id] }`);

// X_User_Id is X-User-Id to a CGI-style app (WSGI, Rack: HTTP_X_USER_ID): it went upstream beside
// the service's field, and the app read the client's value, or both joined (Puma: CVE-2024-45614).
test("a copy_headers field the client spelled with _ (X_User_Id) does not reach the upstream beside the service's", async () => {
  const service = await startDecidingService();
  const { gw, echo, close } = await startAuthStage(guarded(service.url));
  try {
    const ok = await request(gw.url, {
      path: '/app',
      headers: { authorization: 'Bearer good', x_user_id: 'admin', 'x-user_id': 'root' },
    });
    assert.equal(ok.status, 200);
    const users = echo.received[0].rawHeaders.filter(([name]) => /^x[-_]user[-_]id$/i.test(name));
    assert.deepEqual(users, [['x-user-id', 'u-1']]);
  } finally {
    await close();
    await service.close();
  }
});

test("a copy_headers field the service's 2xx leaves out (or gives a value no field can carry) reaches the upstream in none of the client's spellings", async () => {
  const service = await startAuthService((req, res) => {
    if (req.headers['x-case'] === 'bad') return res.writeHead(200, { 'x-user-id': 'r\u00f6ot' }).end();
    res.writeHead(204).end();
  });
  const { gw, echo, close } = await startAuthStage((app) =>
    forwardAuthConfig(app, `{ url: "${service.url}", send_headers: [x-case], copy_headers: [X-User-Id] }`),
  );
  try {
    for (const which of ['none', 'bad']) {
      const ok = await request(gw.url, {
        path: '/app',
        headers: { 'x-case': which, 'x-user-id': 'admin', x_user_id: 'admin', 'X-USER_ID': 'root' },
      });
      assert.equal(ok.status, 200, which);
      const users = echo.received.at(-1)?.rawHeaders.filter(([name]) => /user/i.test(name));
      assert.deepEqual(users, [], which);
    }
    assert.equal(service.asked.length, 2);
  } finally {
    await close(service);
  }
});

test('the auth service decides: 2xx in with its fields, 401, 403 and redirects passed on as it wrote them, 5xx or another answer is the hop failing', async () => {
  const service = await startDecidingService();
  const { gw, echo, close } = await startAuthStage(guarded(service.url));
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
    assert.equal(asked['x-forwarded-host'], gw.url.slice('http://'.length));
    assert.equal(asked['x-forwarded-proto'], 'http');
    assert.equal(asked.via, '1.1 edge-1');
    const line = await gw.logFor('fw-ok');
    assert.equal(line.auth, 'allowed');
    // The service's log and the gateway's meet: it is asked with the request's id.
    assert.equal(asked['x-request-id'], line.req_id);

    const who = await request(gw.url, { path: '/app', headers: { 'x-request-id': 'fw-401' } });
    assert.equal(who.status, 401);
    assert.equal(who.headers['www-authenticate'], 'Bearer realm="sso"');
    assert.equal(who.headers['content-type'], 'text/plain');
    assert.equal(who.text, 'who?', "the service's own body, as it wrote it");
    const denied = await gw.logFor('fw-401');
    assert.equal(who.headers['x-request-id'], denied.req_id, "one X-Request-Id: the request's");
    assert.equal(denied.auth, 'denied: forward 401');
    // Candor's own flag for an access refusal: RL would say rate limited (Envoy's meaning).
    assert.equal(denied.flag, 'AD');
    const bare = await request(gw.url, { path: '/app', headers: { authorization: 'Bearer bare' } });
    assert.equal(bare.status, 401);
    assert.equal(bare.headers['www-authenticate'], 'Bearer', 'a 401 always has a challenge');
    const no = await request(gw.url, { path: '/app', headers: { authorization: 'Bearer readonly' } });
    assert.equal(no.status, 403);
    assert.equal(no.text, 'no');

    const broken = await request(gw.url, {
      path: '/app',
      headers: { authorization: 'Bearer broken', 'x-request-id': 'fw-500' },
    });
    assert.equal(broken.status, 503);
    assert.equal(
      broken.headers['proxy-status'],
      `edge-1; error=destination_unavailable; details="the auth service: it answered 500"; next-hop="auth:forward"`,
    );
    assert.equal((await gw.logFor('fw-500')).auth, 'failed: destination_unavailable');
    // A redirect to the login page is the client's to follow, as the service wrote it.
    const moved = await request(gw.url, {
      path: '/app',
      headers: { authorization: 'Bearer moved', 'x-request-id': 'fw-302' },
    });
    assert.equal(moved.status, 302);
    assert.equal(moved.headers.location, '/login');
    assert.deepEqual(moved.headers['set-cookie'], ['next=/app']);
    assert.equal(moved.text, 'to the login');
    assert.equal((await gw.logFor('fw-302')).auth, 'denied: forward 302');
    const lost = await request(gw.url, { path: '/app', headers: { authorization: 'Bearer lost' } });
    assert.equal(lost.status, 502);
    assert.match(
      String(lost.headers['proxy-status']),
      /error=http_protocol_error; details="the auth service: it answered 404, neither 2xx, 401, 403, 429 nor a redirect"/,
    );
    assert.equal(echo.received.length, 1);
  } finally {
    await close(service);
  }
});

test('an auth service that cannot be reached is a 502 connection_refused of the auth hop, never a 401', async () => {
  const refusing = await startRefusing();
  const { gw, echo, close } = await startAuthStage(guarded(`${refusing.url}/check`));
  try {
    const res = await request(gw.url, { path: '/app', headers: { authorization: 'Bearer good' } });
    assert.equal(res.status, 502);
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=connection_refused; details="the auth service: .*"; next-hop="auth:forward"$/,
    );
    assert.equal(res.headers['www-authenticate'], undefined);
    assert.equal(echo.received.length, 0);
  } finally {
    await close(refusing);
  }
});

test('an auth service that does not answer within its timeout is a 504 http_response_timeout of the auth hop', async () => {
  const hanging = await startAuthService(() => {});
  const { gw, echo, close } = await startAuthStage((app) =>
    forwardAuthConfig(app, `{ url: "${hanging.url}", timeout: 200ms }`),
  );
  try {
    const res = await request(gw.url, { path: '/app', headers: { 'x-request-id': 'fw-slow' } });
    assert.equal(res.status, 504);
    // The call's timeout is its deadline and its head clock alike: whichever is read first after
    // the poll says it (both look again there before failing, so a loaded turn may order them).
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=http_response_timeout; details="the auth service: no response head (within the timeout of 200 ms|\(response timeout of 200 ms\) after \d+ ms)"; next-hop="auth:forward"$/,
    );
    assert.equal((await gw.logFor('fw-slow')).auth, 'failed: http_response_timeout');
    assert.equal(echo.received.length, 0);
  } finally {
    await close(hanging);
  }
});

test('the auth service judges the normalised path the route and the upstream see: no dot-segment or doubled slash walks past it', async () => {
  // A service that keeps everyone out of /app/admin and lets anyone in elsewhere, by X-Forwarded-Uri.
  const service = await startAuthService((req, res) => {
    const uri = String(req.headers['x-forwarded-uri']);
    res.writeHead(uri === '/app/admin' || uri.startsWith('/app/admin/') ? 403 : 204).end();
  });
  const stage = await startAuthStage((app) => forwardAuthConfig(app, `{ url: "${service.url}" }`));
  const raw = (target: string) =>
    rawRequest(stage.gw.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  try {
    for (const target of [
      '/app//admin/keys',
      '/app/x/../admin/keys',
      '/app/%2e%2e/app/admin/keys',
      '/app/./admin//keys?k=1',
    ])
      assert.equal((await raw(target)).status, 403, target);
    assert.equal(stage.echo.received.length, 0, 'nothing walked past the service');
    assert.deepEqual(
      service.asked.map((h) => h['x-forwarded-uri']),
      ['/app/admin/keys', '/app/admin/keys', '/app/admin/keys', '/app/admin/keys?k=1'],
    );
    assert.equal((await raw('/app//public/./page?q=1')).status, 200);
    assert.equal(service.asked.at(-1)?.['x-forwarded-uri'], '/app/public/page?q=1');
    assert.equal(stage.echo.received[0].path, '/app/public/page?q=1');
  } finally {
    await stage.close(service);
  }
});

test("behind a trusted proxy the auth service is told the client's facts the upstream is told (X-Forwarded-For, -Proto, -Host, Forwarded); an untrusted client's are replaced", async () => {
  const service = await startAuthService((_req, res) => res.writeHead(204).end());
  const yaml = (trusted: string) => (app: string) =>
    `trust_forwarded_from: [${trusted}]\n${forwardAuthConfig(app, `{ url: "${service.url}" }`)}`;
  const trusted = await startAuthStage(yaml('127.0.0.1'));
  const untrusted = await startAuthStage(yaml('192.0.2.1'));
  const proxys = {
    'x-forwarded-for': '203.0.113.9',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'shop.example',
    forwarded: 'for=203.0.113.9;proto=https',
  };
  const told = (h: Record<string, unknown>) => ({
    for: h['x-forwarded-for'],
    proto: h['x-forwarded-proto'],
    host: h['x-forwarded-host'],
    forwarded: h.forwarded,
  });
  try {
    assert.equal((await request(trusted.gw.url, { path: '/app', headers: proxys })).status, 200);
    const upstream = told(trusted.echo.received[0].headers);
    assert.deepEqual(upstream, {
      for: '203.0.113.9, 127.0.0.1',
      proto: 'https',
      host: 'shop.example',
      // This hop's proto= is the scheme the proxy vouched for, as X-Forwarded-Proto: an app that
      // reads the last element (Rack) must not take the https client for an http one.
      forwarded: `for=203.0.113.9;proto=https, for=127.0.0.1;host="${trusted.gw.url.slice(7)}";proto=https`,
    });
    assert.deepEqual(told(service.asked[0]), upstream, 'the service hears what the upstream hears');

    assert.equal((await request(untrusted.gw.url, { path: '/app', headers: proxys })).status, 200);
    const own = told(untrusted.echo.received[0].headers);
    assert.equal(own.for, '127.0.0.1', "an untrusted client's words are not passed on");
    assert.deepEqual(told(service.asked[1]), own);
  } finally {
    await trusted.close();
    await untrusted.close(service);
  }
});

test("a url's auth service is asked with the URL's authority as Host, the client's host in X-Forwarded-Host: a Host-routed front (an ingress) takes the call to the service, not to the client's site", async () => {
  const service = await startAuthService((_req, res) => res.writeHead(204).end());
  const { gw, echo, close } = await startAuthStage(guarded(service.url));
  try {
    const res = await request(gw.url, { path: '/app', headers: { host: 'shop.example' } });
    assert.equal(res.status, 200);
    assert.equal(service.asked[0].host, service.host);
    assert.equal(service.asked[0]['x-forwarded-host'], 'shop.example');
    assert.equal(echo.received[0].headers.host, 'shop.example', "the upstream is asked as the client's site");
  } finally {
    await close(service);
  }
});

test("an auth service named as an upstream is asked as the service it is: its target's authority as Host, or its health_check.host; the client's host in X-Forwarded-Host", async () => {
  const service = await startAuthService((_req, res) => res.writeHead(204).end());
  const named = (extra: string) => (app: string) =>
    forwardAuthConfig(app, '{ upstream: authsvc, path: /verify }', {
      upstreams: `  authsvc:\n    targets:\n      - url: http://${service.host}\n${extra}`,
    });
  try {
    for (const [extra, host] of [
      ['', service.host],
      ['    health_check: { host: auth.internal, interval: 1h }\n', 'auth.internal'],
    ]) {
      const { gw, echo, close } = await startAuthStage(named(extra));
      try {
        const res = await request(gw.url, { path: '/app', headers: { host: 'shop.example' } });
        assert.equal(res.status, 200);
        // The calls, not the probes (which say no X-Forwarded-Method).
        const calls = service.asked.filter((asked) => asked['x-forwarded-method'] !== undefined);
        assert.equal(calls.at(-1)?.host, host);
        assert.equal(calls.at(-1)?.['x-forwarded-host'], 'shop.example');
        assert.equal(
          echo.received[0].headers.host,
          'shop.example',
          "the upstream is asked as the client's site",
        );
      } finally {
        await close();
      }
    }
  } finally {
    await service.close();
  }
});

test("a refusal passed on is no-store whatever the service or the route's response rules said: a cache in front never keeps one client's 401, 403 or login redirect for another", async () => {
  const service = await startAuthService((req, res) => {
    const caching = {
      'cache-control': 'public, max-age=600',
      expires: 'Thu, 01 Jan 2099 00:00:00 GMT',
      'cdn-cache-control': 'max-age=600',
      'surrogate-control': 'max-age=600',
    };
    if (req.headers.authorization === 'Bearer readonly') return res.writeHead(403, caching).end('no');
    // A 301 without any caching field is still heuristically cacheable (RFC 9110 §15.4.2).
    if (req.headers.authorization === 'Bearer moved') return res.writeHead(301, { location: '/login' }).end();
    res.writeHead(401, { ...caching, 'www-authenticate': 'Bearer realm="sso"' }).end('who?');
  });
  // The route's rules for its own answers (an app's pages kept ten minutes) are not the refusal's.
  const rules =
    '    response_headers: { set: { Cache-Control: "public, max-age=600", CDN-Cache-Control: max-age=600 } }\n';
  const { gw, echo, close } = await startAuthStage((app) =>
    guarded(service.url)(app).replace('    auth:\n', `${rules}    auth:\n`),
  );
  try {
    for (const [authorization, status] of [
      ['Bearer nobody', 401],
      ['Bearer readonly', 403],
      ['Bearer moved', 301],
    ] as const) {
      const res = await request(gw.url, { path: '/app', headers: { authorization } });
      assert.equal(res.status, status);
      assert.equal(res.headers['cache-control'], 'no-store', authorization);
      for (const name of ['expires', 'cdn-cache-control', 'surrogate-control'])
        assert.equal(res.headers[name], undefined, `${authorization}: ${name}`);
    }
    assert.equal(echo.received.length, 0);
  } finally {
    await close(service);
  }
});

test("the auth service's refusal passed on carries this gateway's Proxy-Status http_request_denied, as every access refusal does, after the service's own", async () => {
  const service = await startAuthService((req, res) => {
    if (req.headers.authorization === 'Bearer moved') return res.writeHead(302, { location: '/login' }).end();
    if (req.headers.authorization === 'Bearer proxied')
      return res.writeHead(403, { 'proxy-status': 'sso-front; received-status=403' }).end();
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="sso"' }).end();
  });
  const { gw, close } = await startAuthStage(guarded(service.url));
  try {
    const status = async (authorization?: string) => {
      const headers = authorization === undefined ? {} : { authorization };
      return (await request(gw.url, { path: '/app', headers })).headers['proxy-status'];
    };
    assert.equal(
      await status(),
      'edge-1; error=http_request_denied; details="the auth service did not accept the credentials"',
    );
    assert.equal(
      await status('Bearer moved'),
      'edge-1; error=http_request_denied; details="the auth service sent the client to log in"',
    );
    assert.equal(
      await status('Bearer proxied'),
      'sso-front; received-status=403, edge-1; error=http_request_denied; details="the auth service does not allow this request"',
    );
  } finally {
    await close(service);
  }
});
