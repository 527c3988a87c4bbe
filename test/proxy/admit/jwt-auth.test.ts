/**
 * JWT bearer tokens on a route: verified against a JWKS fetched from a real server (cached,
 * refetched for an unknown kid, the last good keys kept) or a file; missing or bad tokens get
 * 401, a JWKS endpoint that fails before any good keys is the auth hop's failure (never a 401).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { parseConfig } from '../../../src/core/config/load.ts';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { pastShortWindow } from '../../helpers/wait.ts';

const ISSUER = 'https://idp.example.test/';

async function signer(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const sign = (claims: Record<string, unknown> = {}, options: { aud?: string; exp?: string } = {}) =>
    new SignJWT({ sub: 'user-7', email: 'u7@example.test', roles: ['a', 'b'], ...claims })
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer(ISSUER)
      .setAudience(options.aud ?? 'orders')
      .setIssuedAt()
      .setExpirationTime(options.exp ?? '5m')
      .sign(privateKey);
  return { jwk, sign };
}

/** A JWKS endpoint that can be told to fail: each fetch is counted. */
async function startJwks(keys: () => JWK[]) {
  const state = { mode: 'ok' as 'ok' | '503' | 'garbage' | 'reset', fetches: 0, maxAge: 300 };
  const server = http.createServer((_req, res) => {
    state.fetches++;
    if (state.mode === 'reset') return res.socket?.destroy();
    if (state.mode === '503') return res.writeHead(503).end('down');
    if (state.mode === 'garbage') return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>');
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': `max-age=${state.maxAge}` });
    res.end(JSON.stringify({ keys: keys() }));
  });
  const port = await listenLoopback(server);
  return {
    state,
    url: `http://127.0.0.1:${port}/jwks.json`,
    host: `127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

function config(upstream: string, jwt: string): string {
  return `name: edge-1
routes:
  - name: orders
    match: { path: /orders }
    upstream: app
    auth:
      jwt:
${jwt}        issuer: "${ISSUER}"
        audiences: [orders]
        algorithms: [RS256]
        cookie: session
        claims_to_headers: { sub: X-User-Id, roles: X-User-Roles }
upstreams:
  app:
    targets:
      - url: ${upstream}
`;
}

test('a good token passes with its claims as fields; the client’s copies and its Authorization do not', async () => {
  const first = await signer('k1');
  const jwks = await startJwks(() => [first.jwk]);
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url, `        jwks_url: ${jwks.url}\n`));
  try {
    const token = await first.sign();
    const res = await request(gw.url, {
      path: '/orders/1',
      headers: { authorization: `Bearer ${token}`, 'x-user-id': 'admin', 'x-request-id': 'jwt-ok' },
    });
    assert.equal(res.status, 200);
    const seen = echo.received[0];
    assert.equal(seen.headers['x-user-id'], 'user-7');
    assert.equal(seen.headers['x-user-roles'], 'a, b');
    assert.equal(seen.headers.authorization, undefined);
    assert.equal((await gw.logFor('jwt-ok')).auth, 'allowed');

    const cookie = await request(gw.url, {
      path: '/orders',
      headers: { cookie: `theme=dark; session=${token}` },
    });
    assert.equal(cookie.status, 200);
    assert.equal(jwks.state.fetches, 1, 'the keys are cached by their max-age');
  } finally {
    await gw.close();
    await echo.close();
    await jwks.close();
  }
});

test('a missing, expired, foreign or unsigned token gets 401 with the Bearer challenge', async () => {
  const first = await signer('k1');
  const stranger = await signer('k1');
  const jwks = await startJwks(() => [first.jwk]);
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url, `        jwks_url: ${jwks.url}\n`));
  try {
    const header = Buffer.from(JSON.stringify({ alg: 'none', kid: 'k1' })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ sub: 'x', iss: ISSUER, aud: 'orders' })).toString('base64url');
    const cases = [
      [undefined, 'Bearer', 'denied: jwt no token'],
      [await first.sign({}, { exp: '-10m' }), 'Bearer error="invalid_token"', 'denied: jwt ERR_JWT_EXPIRED'],
      [
        await first.sign({}, { aud: 'billing' }),
        'Bearer error="invalid_token"',
        'denied: jwt ERR_JWT_CLAIM_VALIDATION_FAILED (aud names none of audiences)',
      ],
      [
        await stranger.sign(),
        'Bearer error="invalid_token"',
        'denied: jwt ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
      ],
      [`${header}.${body}.`, 'Bearer error="invalid_token"', 'denied: jwt ERR_JOSE_ALG_NOT_ALLOWED'],
      ['not-a-jwt', 'Bearer error="invalid_token"', 'denied: jwt ERR_JWS_INVALID'],
    ] as const;
    for (const [i, [token, challenge, note]] of cases.entries()) {
      const res = await request(gw.url, {
        path: '/orders',
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'x-request-id': `jwt-no-${i}` },
      });
      assert.equal(res.status, 401, note);
      assert.equal(res.headers['www-authenticate'], challenge);
      assert.match(String(res.headers['proxy-status']), /^edge-1; error=http_request_denied; details="/);
      assert.equal((await gw.logFor(`jwt-no-${i}`)).auth, note);
    }
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
    await jwks.close();
  }
});

test('a new kid fetches the keys again, at most once per jwks_min_refresh', async () => {
  const first = await signer('k1');
  const second = await signer('k2');
  const third = await signer('k3');
  let published = [first.jwk];
  const jwks = await startJwks(() => published);
  const echo = await startEcho();
  const gw = await startTestGateway(
    config(echo.url, `        jwks_url: ${jwks.url}\n        jwks_min_refresh: 1h\n`),
  );
  try {
    const ok = await request(gw.url, {
      path: '/orders',
      headers: { authorization: `Bearer ${await first.sign()}` },
    });
    assert.equal(ok.status, 200);
    // The first fetch was just made: a token with an unknown kid does not trigger another.
    published = [first.jwk, second.jwk];
    const early = await request(gw.url, {
      path: '/orders',
      headers: { authorization: `Bearer ${await second.sign()}` },
    });
    assert.equal(early.status, 401);
    assert.equal(jwks.state.fetches, 1);
  } finally {
    await gw.close();
  }
  // With no minimum between fetches, the rotated key is found by one more fetch.
  const gw2 = await startTestGateway(
    config(echo.url, `        jwks_url: ${jwks.url}\n        jwks_min_refresh: 1ms\n`),
  );
  try {
    jwks.state.fetches = 0;
    published = [first.jwk];
    assert.equal(
      (
        await request(gw2.url, {
          path: '/orders',
          headers: { authorization: `Bearer ${await first.sign()}` },
        })
      ).status,
      200,
    );
    published = [first.jwk, third.jwk];
    await pastShortWindow();
    assert.equal(
      (
        await request(gw2.url, {
          path: '/orders',
          headers: { authorization: `Bearer ${await third.sign()}` },
        })
      ).status,
      200,
    );
    assert.equal(jwks.state.fetches, 2);
  } finally {
    await gw2.close();
    await echo.close();
    await jwks.close();
  }
});

test('a JWKS endpoint failing before any good keys is the auth hop’s 502/503, never a 401; after good ones, they are kept', async (t) => {
  const first = await signer('k1');
  const refusing = await startRefusing();
  const echo = await startEcho();
  // Closed however the test ends: an assertion failing before the last block left it listening,
  // and the file's process (so the whole suite) waiting on it for good.
  t.after(() => echo.close());
  const port = new URL(refusing.url).port;
  const gw = await startTestGateway(config(echo.url, `        jwks_url: http://127.0.0.1:${port}/jwks\n`));
  const token = await first.sign();
  try {
    const res = await request(gw.url, {
      path: '/orders',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', 'x-request-id': 'jwks-down' },
    });
    assert.equal(res.status, 502);
    assert.equal(res.headers['www-authenticate'], undefined);
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=connection_refused; details="the JWKS endpoint: .*"; next-hop="auth:jwks"$/,
    );
    const line = await gw.logFor('jwks-down');
    assert.equal(line.auth, 'failed: connection_refused');
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await refusing.close();
  }

  const jwks = await startJwks(() => [first.jwk]);
  const gw2 = await startTestGateway(
    config(echo.url, `        jwks_url: ${jwks.url}\n        jwks_min_refresh: 1ms\n`),
  );
  try {
    jwks.state.mode = '503';
    const unavailable = await request(gw2.url, {
      path: '/orders',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(unavailable.status, 503);
    assert.match(
      String(unavailable.headers['proxy-status']),
      /error=destination_unavailable; .*next-hop="auth:/,
    );
    // A failure with no keys had yet stands for jwks_min_refresh (1 ms here): a request within it
    // gets that failure, asked of nobody. On a fast machine the next request comes sooner.
    await pastShortWindow();
    jwks.state.mode = 'garbage';
    const garbage = await request(gw2.url, {
      path: '/orders',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(garbage.status, 502);
    assert.match(String(garbage.headers['proxy-status']), /error=http_protocol_error; /);

    // Good keys once (max-age 0: asked again at every request), then the endpoint breaks.
    await pastShortWindow();
    jwks.state.mode = 'ok';
    jwks.state.maxAge = 0;
    const good = await request(gw2.url, { path: '/orders', headers: { authorization: `Bearer ${token}` } });
    assert.equal(good.status, 200, String(good.headers['proxy-status']));
    jwks.state.mode = 'reset';
    // Another token: the one above is remembered as good and would not ask for the keys at all.
    const other = await first.sign({ sub: 'user-9' });
    const kept = await request(gw2.url, { path: '/orders', headers: { authorization: `Bearer ${other}` } });
    assert.equal(kept.status, 200, 'the last good keys still verify');
    const warning = gw2.logs.find((l) => l.msg === 'JWKS fetch failed: keeping the last good keys');
    assert.ok(warning, JSON.stringify(gw2.logs.map((l) => l.msg)));
    assert.equal(warning.hop, `auth:${jwks.host}`);
  } finally {
    await gw2.close();
    await jwks.close();
  }
});

test('keys_file: tokens verified against a key set on disk', async () => {
  const first = await signer('k1');
  const file = join(tempDir('candor-jwks-'), 'jwks.json');
  writeFileSync(file, JSON.stringify({ keys: [first.jwk] }));
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url, `        keys_file: ${file}\n`));
  try {
    const res = await request(gw.url, {
      path: '/orders',
      headers: { authorization: `Bearer ${await first.sign()}` },
    });
    assert.equal(res.status, 200);
    assert.equal(echo.received[0].headers['x-user-id'], 'user-7');
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a reload keeps the keys fetched from a JWKS URL still named: its endpoint down then costs no 502', async () => {
  const first = await signer('k1');
  const jwks = await startJwks(() => [first.jwk]);
  const echo = await startEcho();
  const yaml = config(echo.url, `        jwks_url: ${jwks.url}\n`);
  const gw = await startTestGateway(yaml);
  try {
    const token = await first.sign();
    const headers = { authorization: `Bearer ${token}` };
    assert.equal((await request(gw.url, { path: '/orders', headers })).status, 200);
    jwks.state.mode = 'reset';
    // Another clock skew: a new snapshot, new access rules, the same key set.
    const next = config(echo.url, `        jwks_url: ${jwks.url}\n        clock_skew: 45s\n`);
    const outcome = await gw.gateway.reload(
      parseConfig(`listen:\n  - address: 127.0.0.1:0\n${next}`, '<reload>'),
    );
    assert.deepEqual(outcome.upstreams.kept, ['app']);
    assert.equal((await request(gw.url, { path: '/orders', headers })).status, 200);
    assert.equal(jwks.state.fetches, 1);
  } finally {
    await gw.close();
    await echo.close();
    await jwks.close();
  }
});

test('a good token is remembered: its signature is not checked again (its key withdrawn since), but only until its exp', async () => {
  const first = await signer('k1');
  let published = [first.jwk];
  const jwks = await startJwks(() => published);
  // Every request past the first millisecond asks for the keys again.
  jwks.state.maxAge = 0;
  const echo = await startEcho();
  const gw = await startTestGateway(
    config(
      echo.url,
      `        jwks_url: ${jwks.url}\n        jwks_min_refresh: 1ms\n        clock_skew: 1ms\n`,
    ),
  );
  try {
    const seen = await first.sign();
    const ask = (token: string, id: string) =>
      request(gw.url, { path: '/orders', headers: { authorization: `Bearer ${token}`, 'x-request-id': id } });
    assert.equal((await ask(seen, 'j-1')).status, 200);
    published = [];
    const again = await ask(seen, 'j-2');
    assert.equal(again.status, 200, 'the token seen good stands without its signature checked again');
    assert.equal(echo.received[1].headers['x-user-id'], 'user-7', 'with its claims, as the first time');
    await pastShortWindow();
    const unseen = await ask(await first.sign({ sub: 'user-8' }), 'j-3');
    assert.equal(
      unseen.status,
      401,
      'a token never seen is checked against the keys, which lack its kid now',
    );
    assert.equal((await gw.logFor('j-3')).auth, 'denied: jwt ERR_JWKS_NO_MATCHING_KEY');

    // Remembered no longer than its exp.
    published = [first.jwk];
    const brief = await first.sign({}, { exp: '2s' });
    assert.equal((await ask(brief, 'j-4')).status, 200);
    // jose reads the clock in whole seconds: 3 s past the signing, exp (2 s after it) has passed for it too.
    await new Promise((resolve) => setTimeout(resolve, 3100));
    assert.equal((await ask(brief, 'j-5')).status, 401);
    assert.equal((await gw.logFor('j-5')).auth, 'denied: jwt ERR_JWT_EXPIRED');
  } finally {
    await gw.close();
    await echo.close();
    await jwks.close();
  }
});

test('keys_file with PS256, ES384 and EdDSA keys: each algorithm’s token passes; a token with an unknown crit, or a kid the file lacks, gets 401', async () => {
  const keys: JWK[] = [];
  const signers = new Map<string, (claims?: Record<string, unknown>, crit?: boolean) => Promise<string>>();
  for (const alg of ['PS256', 'ES384', 'EdDSA'] as const) {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    keys.push({ ...(await exportJWK(publicKey)), kid: alg, alg, use: 'sig' });
    signers.set(alg, (claims = {}, crit = false) =>
      new SignJWT({ sub: `user-${alg}`, ...claims })
        .setProtectedHeader({
          alg,
          kid: alg,
          ...(crit ? { crit: ['urn:example:ext'], 'urn:example:ext': 1 } : {}),
        })
        .setIssuer(ISSUER)
        .setAudience('orders')
        .setExpirationTime('5m')
        .sign(privateKey, crit ? { crit: { 'urn:example:ext': true } } : {}),
    );
  }
  const file = join(tempDir('candor-jwks-'), 'jwks.json');
  writeFileSync(file, JSON.stringify({ keys }));
  const echo = await startEcho();
  const gw = await startTestGateway(
    config(echo.url, `        keys_file: ${file}\n`).replace(
      'algorithms: [RS256]',
      'algorithms: [PS256, ES384, EdDSA]',
    ),
  );
  try {
    for (const [i, alg] of ['PS256', 'ES384', 'EdDSA'].entries()) {
      const sign = signers.get(alg) as (claims?: Record<string, unknown>, crit?: boolean) => Promise<string>;
      const res = await request(gw.url, {
        path: '/orders',
        headers: { authorization: `Bearer ${await sign()}`, 'x-request-id': `alg-${i}` },
      });
      assert.equal(res.status, 200, alg);
      assert.equal(echo.received[i].headers['x-user-id'], `user-${alg}`);
      assert.equal((await gw.logFor(`alg-${i}`)).auth, 'allowed');
    }
    const crit = signers.get('ES384') as (
      claims?: Record<string, unknown>,
      crit?: boolean,
    ) => Promise<string>;
    const refused = await request(gw.url, {
      path: '/orders',
      headers: { authorization: `Bearer ${await crit({}, true)}`, 'x-request-id': 'alg-crit' },
    });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['www-authenticate'], 'Bearer error="invalid_token"');
    assert.equal((await gw.logFor('alg-crit')).auth, 'denied: jwt ERR_JOSE_NOT_SUPPORTED');
    const other = await generateKeyPair('ES384');
    const stranger = await new SignJWT({ sub: 'x' })
      .setProtectedHeader({ alg: 'ES384', kid: 'elsewhere' })
      .setIssuer(ISSUER)
      .setAudience('orders')
      .sign(other.privateKey);
    const unknown = await request(gw.url, {
      path: '/orders',
      headers: { authorization: `Bearer ${stranger}`, 'x-request-id': 'alg-kid' },
    });
    assert.equal(unknown.status, 401);
    assert.equal((await gw.logFor('alg-kid')).auth, 'denied: jwt ERR_JWKS_NO_MATCHING_KEY');
    assert.equal(echo.received.length, 3);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a rotated kid while the JWKS endpoint is down is the hop’s failure, not a 401: nobody is logged out by an outage', async () => {
  const first = await signer('k1');
  const rotated = await signer('k2');
  let published = [first.jwk];
  const jwks = await startJwks(() => published);
  const echo = await startEcho();
  const gw = await startTestGateway(
    config(echo.url, `        jwks_url: ${jwks.url}\n        jwks_min_refresh: 1ms\n`),
  );
  const ask = async (token: string, id: string) =>
    request(gw.url, { path: '/orders', headers: { authorization: `Bearer ${token}`, 'x-request-id': id } });
  try {
    assert.equal((await ask(await first.sign(), 'rot-ok')).status, 200);
    // The issuer rotates to k2 while its JWKS endpoint is down.
    jwks.state.mode = '503';
    published = [first.jwk, rotated.jwk];
    const token = await rotated.sign();
    const down = await ask(token, 'rot-down');
    assert.equal(down.status, 503);
    assert.equal(down.headers['www-authenticate'], undefined);
    assert.match(
      String(down.headers['proxy-status']),
      /^edge-1; error=destination_unavailable; details="the JWKS endpoint: it answered 503"; next-hop="auth:jwks"$/,
    );
    assert.equal((await gw.logFor('rot-down')).auth, 'failed: destination_unavailable');
    // One of the rotated kid that has expired (or names another audience) is no key's to save:
    // the client's 401, whatever the endpoint is doing, and it asks nothing of it.
    const fetches = jwks.state.fetches;
    for (const [stale, id, code] of [
      [await rotated.sign({}, { exp: '-1h' }), 'rot-expired', 'ERR_JWT_EXPIRED'],
      [
        await rotated.sign({}, { aud: 'billing' }),
        'rot-audience',
        'ERR_JWT_CLAIM_VALIDATION_FAILED (aud names none of audiences)',
      ],
    ]) {
      const refused = await ask(stale, id);
      assert.equal(refused.status, 401, id);
      assert.equal(refused.headers['www-authenticate'], 'Bearer error="invalid_token"', id);
      assert.equal((await gw.logFor(id)).auth, `denied: jwt ${code}`, id);
    }
    assert.equal(jwks.state.fetches, fetches);
    // A token of the kept keys still passes; the endpoint back, the rotated one does too.
    assert.equal((await ask(await first.sign({ sub: 'user-8' }), 'rot-kept')).status, 200);
    jwks.state.mode = 'ok';
    await pastShortWindow();
    assert.equal((await ask(token, 'rot-back')).status, 200);
    assert.equal(echo.received.length, 3);
  } finally {
    await gw.close();
    await echo.close();
    await jwks.close();
  }
});

test('an expired token of a kid the kept keys lack, while the endpoint is failing, is the client’s 401: no key could make it good', async () => {
  const first = await signer('k1');
  const rotated = await signer('k2');
  const jwks = await startJwks(() => [first.jwk]);
  jwks.state.maxAge = 0;
  const echo = await startEcho();
  const gw = await startTestGateway(
    config(echo.url, `        jwks_url: ${jwks.url}\n        jwks_min_refresh: 2s\n`),
  );
  const ask = async (token: string, id: string) =>
    request(gw.url, { path: '/orders', headers: { authorization: `Bearer ${token}`, 'x-request-id': id } });
  try {
    assert.equal((await ask(await first.sign(), 'kept-ok')).status, 200);
    // Past the keys' time, the endpoint fails: the keys are kept, its failure with them for 2 s.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    jwks.state.mode = '503';
    assert.equal((await ask(await first.sign(), 'kept-again')).status, 200);
    // A live token of the rotated kid is the hop's failure (nobody is logged out by an outage).
    assert.equal((await ask(await rotated.sign(), 'rotated-live')).status, 503);
    // An expired one is no key's to save.
    const expired = await ask(await rotated.sign({}, { exp: '-1h' }), 'rotated-expired');
    assert.equal(expired.status, 401);
    assert.equal(expired.headers['www-authenticate'], 'Bearer error="invalid_token"');
    assert.equal((await gw.logFor('rotated-expired')).auth, 'denied: jwt ERR_JWT_EXPIRED');
    assert.equal(echo.received.length, 2);
  } finally {
    await gw.close();
    await echo.close();
    await jwks.close();
  }
});
