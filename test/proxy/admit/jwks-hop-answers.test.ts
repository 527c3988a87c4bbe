/**
 * A JWKS endpoint that answers something that is not a key set is the auth hop answering
 * garbage: a 502 http_protocol_error naming the hop, never the gateway's own 500 nor a 401.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { proxyStatusType } from '../../../src/core/failure/proxy-status.ts';
import { type Fault, listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
import {
  startBadFraming,
  startHugeHeader,
  startInvalidHeader,
  startInvalidStatusLine,
  startSshBanner,
} from '../../../src/kits/fault-kit/garbage-faults.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startCloseMidBody, startResetMidBody } from '../../../src/kits/fault-kit/reset-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { pastShortWindow } from '../../helpers/wait.ts';

/**
 * Runs `body` on a gateway whose `routes` (YAML list items, their auth on the `hops`) all send to
 * upstream `app`, an echo that must get nothing the hops turn away; then closes the gateway, the
 * echo and the hops (their connections too: one may hold a stalled answer), whatever happened.
 */
async function withGateway(
  routes: string,
  hops: readonly http.Server[],
  body: (gw: TestGateway, echo: Fault) => Promise<void>,
): Promise<void> {
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
${routes}upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  try {
    await body(gw, echo);
  } finally {
    await gw.close();
    await echo.close();
    for (const hop of hops) {
      hop.closeAllConnections();
      await new Promise((resolve) => hop.close(resolve));
    }
  }
}

/** A well-formed RS256 token with `header` (its JOSE header), good till 2100 (its claims refuse nothing), whose signature no key checks. */
const tokenWith = (header: string) =>
  `${Buffer.from(header).toString('base64url')}.${Buffer.from('{"sub":"x","exp":4102444800}').toString('base64url')}.c2ln`;

test('a JWKS whose keys are not JWK objects is the hop’s 502 http_protocol_error, not a 500', async () => {
  let body = '';
  const jwks = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  const port = await listenLoopback(jwks);
  const routes = `  - name: orders
    match: { path: /orders }
    upstream: app
    auth:
      jwt:
        jwks_url: http://127.0.0.1:${port}/jwks.json
        jwks_min_refresh: 1ms
`;
  await withGateway(routes, [jwks], async (gw, echo) => {
    // A well-formed RS256 header and payload: only the key set is wrong.
    const token = tokenWith('{"alg":"RS256","kid":"k1"}');
    for (const [i, text] of ['{"keys":["k1"]}', '{"keys":[null]}', '{"keys":[[1]]}'].entries()) {
      body = text;
      const id = `jwks-garbage-${i}`;
      const res = await request(gw.url, {
        path: '/orders',
        headers: { authorization: `Bearer ${token}`, 'x-request-id': id },
      });
      assert.equal(res.status, 502, text);
      assert.equal(res.headers['www-authenticate'], undefined);
      assert.equal(
        res.headers['proxy-status'],
        `edge-1; error=http_protocol_error; details="the JWKS endpoint: its answer is not a key set ({\\"keys\\": [...]})"; next-hop="auth:jwks"`,
      );
      assert.equal((await gw.logFor(id)).auth, 'failed: http_protocol_error');
    }
    assert.equal(echo.received.length, 0);
  });
});

test('a JWKS endpoint that answers in something not HTTP is the hop’s garbage by its shape, not a connection lost', async () => {
  const peers = [
    [
      await startSshBanner(),
      'http_protocol_error',
      /^the JWKS endpoint: Response does not match the HTTP\/1\.1 protocol \(Expected HTTP\//,
    ],
    [
      await startInvalidStatusLine({ variant: 'four-digit-code' }),
      'http_protocol_error',
      /Invalid response status/,
    ],
    [await startInvalidHeader(), 'http_protocol_error', /Invalid header token/],
    [await startBadFraming({ variant: 'bad-chunk-size' }), 'http_response_transfer_coding', /chunk size/],
    // undici says "Content-Length mismatch" for any head its parser refuses after a Content-Length:
    // two of them, or an invalid field after one, which is no Content-Length problem.
    [await startBadFraming({ variant: 'two-lengths' }), 'http_protocol_error', /Content-Length/],
    [await startInvalidHeader({ afterContentLength: true }), 'http_protocol_error', /Content-Length/],
    [await startHugeHeader(), 'http_response_header_section_size', /UND_ERR_HEADERS_OVERFLOW/],
  ] as const;
  const routes = peers
    .map(
      ([peer], i) => `  - name: r${i}
    match: { path: /r${i} }
    upstream: app
    auth:
      jwt: { jwks_url: "${peer.url}/jwks.json", algorithms: [RS256] }
`,
    )
    .join('');
  try {
    await withGateway(routes, [], async (gw, echo) => {
      const token = tokenWith('{"alg":"RS256","kid":"k1"}');
      for (const [i, [, type, details]] of peers.entries()) {
        const id = `jwks-not-http-${i}`;
        const res = await request(gw.url, {
          path: `/r${i}`,
          headers: { authorization: `Bearer ${token}`, 'x-request-id': id },
        });
        assert.equal(res.status, 502, type);
        const status = String(res.headers['proxy-status']);
        assert.match(status, new RegExp(`^edge-1; error=${proxyStatusType(type)}; details="`), status);
        assert.match(/details="([^"]*)"/.exec(status)?.[1] ?? '', details);
        assert.doesNotMatch(status, /connection lost/);
        assert.match(status, /; next-hop="auth:jwks"$/);
        assert.equal((await gw.logFor(id)).auth, `failed: ${type}`);
      }
      assert.equal(echo.received.length, 0);
    });
  } finally {
    for (const [peer] of peers) await peer.close();
  }
});

test('a JWKS endpoint that cuts its key set short, by a reset or a close, is the hop’s 502 http_response_incomplete', async () => {
  // The close under `Connection: close` is what undici reports as a Content-Length mismatch.
  const peers = [
    await startResetMidBody(),
    await startCloseMidBody({ framing: 'chunked' }),
    await startCloseMidBody({ connectionClose: true }),
  ];
  const routes = peers
    .map(
      (peer, i) => `  - name: r${i}
    match: { path: /r${i} }
    upstream: app
    auth:
      jwt: { jwks_url: "${peer.url}/jwks.json", algorithms: [RS256] }
`,
    )
    .join('');
  try {
    await withGateway(routes, [], async (gw) => {
      for (const i of peers.keys()) {
        const id = `jwks-cut-${i}`;
        const res = await request(gw.url, {
          path: `/r${i}`,
          headers: { authorization: `Bearer ${tokenWith('{"alg":"RS256","kid":"k1"}')}`, 'x-request-id': id },
        });
        assert.equal(res.status, 502);
        const status = String(res.headers['proxy-status']);
        assert.match(
          status,
          /^edge-1; error=http_response_incomplete; details="the JWKS endpoint: response body cut short: .*"; next-hop="auth:jwks"$/,
        );
        assert.doesNotMatch(status, /before the response head/);
        assert.equal((await gw.logFor(id)).auth, 'failed: http_response_incomplete');
      }
    });
  } finally {
    for (const peer of peers) await peer.close();
  }
});

test('a JWKS key that cannot check a signature, named by a token, is the hop’s 502, not the token’s 401', async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1' };
  const unusable = [
    // Not a point on the curve: node:crypto cannot read it.
    { ...jwk, x: 'AA', y: 'AA' },
    // A private key published by mistake is never a verifying one.
    { ...(await exportJWK(privateKey)), kid: 'k1' },
  ];
  let keys: object[] = [jwk];
  const jwks = http.createServer((_req, res) => {
    res
      .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      .end(JSON.stringify({ keys }));
  });
  const port = await listenLoopback(jwks);
  const routes = `  - name: orders
    match: { path: /orders }
    upstream: app
    auth:
      jwt:
        jwks_url: http://127.0.0.1:${port}/jwks.json
        jwks_min_refresh: 1ms
        algorithms: [ES256]
`;
  await withGateway(routes, [jwks], async (gw, echo) => {
    const bearer = async () =>
      `Bearer ${await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setExpirationTime('5m').sign(privateKey)}`;
    assert.equal(
      (await request(gw.url, { path: '/orders', headers: { authorization: await bearer() } })).status,
      200,
    );
    for (const [i, key] of unusable.entries()) {
      keys = [key];
      await pastShortWindow();
      const id = `jwks-unusable-${i}`;
      const res = await request(gw.url, {
        path: '/orders',
        headers: { authorization: await bearer(), 'x-request-id': id },
      });
      assert.equal(res.status, 502);
      assert.equal(res.headers['www-authenticate'], undefined);
      assert.equal(
        res.headers['proxy-status'],
        `edge-1; error=http_protocol_error; details="the JWKS endpoint: the key the token names cannot check a signature"; next-hop="auth:jwks"`,
      );
      assert.equal((await gw.logFor(id)).auth, 'failed: http_protocol_error');
    }
    assert.equal(echo.received.length, 1);
  });
});

test('two JWKS URLs on one host are one hop, auth:HOST, whose status counts both fetches and failures', async () => {
  let up = true;
  const jwks = http.createServer((req, res) => {
    if (!up) return res.writeHead(500).end('down');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [] }));
    void req;
  });
  const port = await listenLoopback(jwks);
  const route = (name: string) => `  - name: ${name}
    match: { path: /${name} }
    upstream: app
    auth:
      jwt:
        jwks_url: http://127.0.0.1:${port}/realms/${name}/certs
        jwks_min_refresh: 1ms
`;
  await withGateway(`${route('a')}${route('b')}`, [jwks], async (gw) => {
    const token = tokenWith('{"alg":"RS256","kid":"k1"}');
    const ask = (path: string) => request(gw.url, { path, headers: { authorization: `Bearer ${token}` } });
    // Keys fetched for each realm (no key fits the token: its 401), then the host fails both.
    assert.equal((await ask('/a')).status, 401);
    assert.equal((await ask('/b')).status, 401);
    up = false;
    await ask('/a');
    await ask('/b');
    const hops = gw.gateway.status().auth_hops;
    assert.deepEqual(Object.keys(hops), [`auth:127.0.0.1:${port}`]);
    const hop = hops[`auth:127.0.0.1:${port}`];
    assert.equal(hop.kind, 'jwks');
    assert.equal(hop.counts.failed, 2);
    assert.ok(hop.counts.fetched >= 2, JSON.stringify(hop.counts));
    assert.equal(hop.last_failure?.type, 'destination_unavailable');
  });
});

test('a JWKS endpoint that does not answer, or stalls its key set, is the hop’s 504 http_response_timeout, never a 401', async () => {
  const jwks = http.createServer((req, res) => {
    // /head: the head, then nothing; any other path: not even a head.
    if (req.url === '/head') res.writeHead(200, { 'content-type': 'application/json' }).write('{"keys":');
  });
  const port = await listenLoopback(jwks);
  const route = (name: string, path: string) => `  - name: ${name}
    match: { path: /${name} }
    upstream: app
    auth:
      jwt: { jwks_url: "http://127.0.0.1:${port}${path}" }
`;
  await withGateway(`${route('silent', '/silent')}${route('stalled', '/head')}`, [jwks], async (gw, echo) => {
    const token = tokenWith('{"alg":"RS256"}');
    const answers = await Promise.all(
      ['silent', 'stalled'].map((name) =>
        request(gw.url, {
          path: `/${name}`,
          headers: { authorization: `Bearer ${token}`, 'x-request-id': `jwks-${name}` },
        }),
      ),
    );
    for (const [i, name] of ['silent', 'stalled'].entries()) {
      const res = answers[i];
      assert.equal(res.status, 504, name);
      assert.equal(res.headers['www-authenticate'], undefined);
      assert.match(
        String(res.headers['proxy-status']),
        /^edge-1; error=http_response_timeout; details="the JWKS endpoint: [^"]+"; next-hop="auth:jwks"$/,
      );
      assert.equal((await gw.logFor(`jwks-${name}`)).auth, 'failed: http_response_timeout');
    }
    assert.equal(echo.received.length, 0);
  });
});

test('an auth hop that answers 5xx is a 503 with Retry-After, as every destination_unavailable is: its own delay when it gave one, else 1 s', async () => {
  let retryAfter: string | undefined = '7';
  const answer = (res: http.ServerResponse, status: number) =>
    res.writeHead(status, retryAfter === undefined ? {} : { 'retry-after': retryAfter }).end('down');
  const jwks = http.createServer((_req, res) => answer(res, 500));
  const jwksPort = await listenLoopback(jwks);
  const service = http.createServer((_req, res) => answer(res, 503));
  const servicePort = await listenLoopback(service);
  const routes = `  - name: keys
    match: { path: /keys }
    upstream: app
    auth:
      jwt: { jwks_url: "http://127.0.0.1:${jwksPort}/jwks", jwks_min_refresh: 1ms }
  - name: service
    match: { path: /service }
    upstream: app
    auth:
      forward: { url: "http://127.0.0.1:${servicePort}/check" }
`;
  await withGateway(routes, [jwks, service], async (gw, echo) => {
    const token = tokenWith('{"alg":"RS256"}');
    const ask = (path: string) =>
      request(gw.url, { path, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
    for (const [value, expected] of [
      ['7', '7'],
      [undefined, '1'],
      ['Fri, 31 Dec 1999 23:59:59 GMT', '1'],
      ['99999999', '3600'],
    ] as const) {
      retryAfter = value;
      for (const [path, status] of [
        ['/keys', 500],
        ['/service', 503],
      ] as const) {
        // Past jwks_min_refresh (1 ms), within which the last failure stands for every request.
        await pastShortWindow();
        const res = await ask(path);
        assert.equal(res.status, 503, path);
        assert.match(
          String(res.headers['proxy-status']),
          new RegExp(
            `^edge-1; error=destination_unavailable; details="[^"]*: it answered ${status}"; next-hop="auth:`,
          ),
        );
        assert.equal(res.headers['retry-after'], expected, `${path}, Retry-After ${value}`);
        // The body says what happened: the hop answered 5xx, not that its targets are out of rotation.
        assert.match(
          JSON.parse(res.text).detail,
          /or it answered that it is unavailable\. Details: .*: it answered 5\d\d\.$/,
        );
      }
    }
    assert.equal(echo.received.length, 0);
  });
});

test('a forward-auth service and a JWKS on one host are one hop on the status: both kinds of counts, the forward hop’s circuit', async () => {
  // One identity service: /check decides, /jwks.json publishes the keys.
  const idp = http.createServer((req, res) => {
    if (req.url === '/jwks.json')
      return res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
    res.writeHead(204).end();
  });
  const port = await listenLoopback(idp);
  const routes = `  - name: session
    match: { path: /session }
    upstream: app
    auth:
      forward: { url: "http://127.0.0.1:${port}/check" }
  - name: api
    match: { path: /api }
    upstream: app
    auth:
      jwt: { jwks_url: "http://127.0.0.1:${port}/jwks.json", jwks_min_refresh: 1h }
`;
  await withGateway(routes, [idp], async (gw) => {
    const token = tokenWith('{"alg":"RS256","kid":"k1"}');
    assert.equal((await request(gw.url, { path: '/session' })).status, 200);
    assert.equal(
      (await request(gw.url, { path: '/api', headers: { authorization: `Bearer ${token}` } })).status,
      401,
    );
    const hops = gw.gateway.status().auth_hops;
    assert.deepEqual(Object.keys(hops), [`auth:127.0.0.1:${port}`]);
    const hop = hops[`auth:127.0.0.1:${port}`];
    assert.equal(hop.kind, 'forward');
    assert.equal(hop.upstream, `auth:127.0.0.1:${port}`);
    assert.equal(hop.circuit?.state, 'closed');
    assert.deepEqual(hop.counts, { allowed: 1, denied: 0, fetched: 1, failed: 0 });
  });
});

test('a key set that opens with a UTF-8 byte order mark is read as the key set it is (as fetch’s json() and jose read it), not the hop’s garbage', async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const set = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] });
  const jwks = http.createServer((_req, res) => {
    // A file saved by an editor that writes a BOM, served as it is.
    res.writeHead(200, { 'content-type': 'application/json' }).end(`\uFEFF${set}`);
  });
  const port = await listenLoopback(jwks);
  const routes = `  - name: orders
    match: { path: /orders }
    upstream: app
    auth:
      jwt:
        jwks_url: http://127.0.0.1:${port}/jwks.json
`;
  await withGateway(routes, [jwks], async (gw, echo) => {
    const token = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setExpirationTime('5m')
      .sign(privateKey);
    const res = await request(gw.url, { path: '/orders', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, String(res.headers['proxy-status']));
    assert.equal(echo.received.length, 1);
  });
});

test('a token no key could make good is the client’s 401 while the JWKS endpoint fails, and asks nothing of it; a well-formed one is the hop’s 503', async () => {
  const withClaims = (header: string, claims: string) =>
    `${Buffer.from(header).toString('base64url')}.${Buffer.from(claims).toString('base64url')}.c2ln`;
  const soon = Math.floor(Date.now() / 1000) + 300;
  let asked = 0;
  const jwks = http.createServer((_req, res) => {
    asked++;
    res.writeHead(500).end();
  });
  const port = await listenLoopback(jwks);
  const routes = `  - name: orders
    match: { path: /orders }
    upstream: app
    auth:
      jwt:
        jwks_url: http://127.0.0.1:${port}/jwks.json
        algorithms: [RS256]
        jwks_min_refresh: 1ms
`;
  await withGateway(routes, [jwks], async (gw, echo) => {
    const ask = async (token: string, id: string) => {
      const res = await request(gw.url, {
        path: '/orders',
        headers: { authorization: `Bearer ${token}`, 'x-request-id': id },
      });
      return { res, auth: (await gw.logFor(id)).auth };
    };
    // Not a JWS, an alg the route does not take, a crit it does not know: whatever the keys.
    for (const [token, code, id] of [
      ['not-a-token', 'ERR_JWS_INVALID', 'garbage'],
      [tokenWith('{"alg":"HS256","kid":"k1"}'), 'ERR_JOSE_ALG_NOT_ALLOWED', 'hmac'],
      [tokenWith('{"alg":"none"}'), 'ERR_JOSE_ALG_NOT_ALLOWED', 'none'],
      [tokenWith('{"alg":"RS256","crit":["exp"],"exp":1}'), 'ERR_JOSE_NOT_SUPPORTED', 'crit'],
      // Claims no signature could save: expired, or a logout token where an access token goes.
      [withClaims('{"alg":"RS256","kid":"k1"}', '{"sub":"x","exp":1}'), 'ERR_JWT_EXPIRED', 'expired'],
      [
        withClaims('{"alg":"RS256","kid":"k1","typ":"logout+jwt"}', `{"sub":"x","exp":${soon}}`),
        'ERR_JWT_CLAIM_VALIDATION_FAILED (typ is none of types)',
        'logout',
      ],
    ]) {
      const { res, auth } = await ask(token, id);
      assert.equal(res.status, 401, id);
      assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"', id);
      assert.equal(auth, `denied: jwt ${code}`, id);
    }
    assert.equal(asked, 0, 'no key set was fetched for a token none could make good');
    // A token a key might make good: the keys are the verdict, and the hop failing is told.
    const { res, auth } = await ask(
      withClaims('{"alg":"RS256","kid":"k1"}', `{"sub":"x","exp":${soon}}`),
      'formed',
    );
    assert.equal(res.status, 503);
    assert.equal(auth, 'failed: destination_unavailable');
    assert.equal(asked, 1);
    assert.equal(echo.received.length, 0);
  });
});
