/**
 * ID tokens a provider should never sign, from a small provider of the test's own (oidc-provider
 * signs none of them): an `aud` not the gateway's client, an `azp` naming another client, an
 * `exp` gone by, a signature its published key did not make, an `iss` not the provider's. Each is
 * the token endpoint's own answer to the gateway, which no user brought: the hop's 502
 * `http_protocol_error` naming what was wrong (as the docs say), never a 401, a 500 or a session;
 * the app never reached; the provider's row on the status page counting it, and five in a row
 * opening its circuit, whichever check refused them (oauth4webapi's or the gateway's signature
 * check), at a sign-in's return or a renewal. A `nonce` not the sign-in's, or none, says the code was another sign-in's, which the
 * browser brought: its 400, counted neither on the row nor on the circuit. The same provider's
 * good token signs in.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
import { CookieSeal } from '../../../src/proxy/admit/oidc/session-cookie.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET, HttpBrowser } from '../../helpers/oidc-provider.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';

const ENV = { OIDC_BAD_CLIENT_SECRET: CLIENT_SECRET, OIDC_BAD_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

let issuer = '';
let provider: http.Server;
let app: http.Server;
let gw: TestGateway;
let reached = 0;
let jwk: JWK;
/** A signing key, as jose makes them. */
type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let key: Key;
let strangerKey: Key;
/** What the next ID token is made of, from the sign-in's nonce: its claims and the key that signs it. */
let next: (nonce: string) => { claims: Record<string, unknown>; key: Key } = () => {
  throw new Error('no token set');
};

before(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  key = pair.privateKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  strangerKey = (await generateKeyPair('RS256')).privateKey;
  provider = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const json = (value: unknown) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (url.pathname === '/.well-known/openid-configuration')
      return json({
        issuer,
        authorization_endpoint: `${issuer}/auth`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    if (url.pathname === '/jwks') return json({ keys: [jwk] });
    // The authorization endpoint: straight back with a code, as a provider whose user is signed
    // in; the code names the sign-in's nonce (sign-ins answered out of order each get their own).
    if (url.pathname === '/auth') {
      const back = new URL(url.searchParams.get('redirect_uri') ?? '');
      back.searchParams.set('code', `code.${url.searchParams.get('nonce') ?? ''}`);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      return void res.writeHead(302, { location: back.href }).end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', async () => {
        const made = next((new URLSearchParams(body).get('code') ?? '').slice('code.'.length));
        const idToken = await new SignJWT(made.claims)
          .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
          .sign(made.key);
        json({ access_token: 'at', token_type: 'Bearer', expires_in: 300, id_token: idToken });
      });
      return;
    }
    res.writeHead(404).end();
  });
  issuer = `http://127.0.0.1:${await listenLoopback(provider)}`;
  app = http.createServer((_req, res) => {
    reached++;
    res.end('app');
  });
  appPort = await listenLoopback(app);
  gw = await gateway();
});

let appPort = 0;

/** A gateway signing in at the provider: its own hop, its own circuit. */
function gateway(): Promise<TestGateway> {
  return startGatewayFromText(
    `listen:
  - address: 127.0.0.1:0
routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      oidc:
        issuer: ${issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_BAD_CLIENT_SECRET
        cookie: { secret_env: OIDC_BAD_COOKIE_SECRET }
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${appPort}
`,
    ENV,
  );
}

after(() => closeAll(gw, provider, app));

/** Good claims for the sign-in whose nonce is `nonce`, `changes` laid over them (undefined: left out). */
function claims(nonce: string, changes: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  const all: Record<string, unknown> = {
    iss: issuer,
    aud: CLIENT_ID,
    sub: 'alice',
    nonce,
    iat: now,
    exp: now + 300,
    ...changes,
  };
  for (const [name, value] of Object.entries(all)) if (value === undefined) delete all[name];
  return all;
}

/** The provider's row of the gateway's status (`GET /status`'s `auth_hops`). */
function row() {
  return gw.gateway.status().auth_hops[`auth:${new URL(issuer).host}`];
}

/** A browser's sign-in through the provider: the gateway's (`at`'s) answer at the redirect path. */
async function signIn(at = gw) {
  const browser = new HttpBrowser();
  return browser.go(`${at.url}/page`, (url) => url.pathname === '/page');
}

test('a good ID token from this provider signs in (the control)', async () => {
  next = (nonce) => ({ claims: claims(nonce), key });
  const back = await signIn();
  assert.equal(back.status, 302, back.text.slice(0, 300));
  assert.equal(back.headers.location, '/page');
});

/**
 * An ID token made for another sign-in than the browser's: its nonce another, or none (which a
 * provider leaving out the nonce it was sent makes too, and the answer says so), with the
 * gateway's Proxy-Status details and log note.
 */
const otherSignIns: [
  string,
  (nonce: string) => { claims: Record<string, unknown>; key: Key },
  details: string,
  note: string,
][] = [
  [
    'a nonce not the sign-in’s',
    (n) => ({ claims: claims(n, { nonce: `${n}x` }), key }),
    "the sign-in's code was not issued for this browser's sign-in (its ID token's nonce is another's)",
    'denied: oidc nonce mismatch',
  ],
  [
    'no nonce',
    (n) => ({ claims: claims(n, { nonce: undefined }), key }),
    "the sign-in's ID token carries no nonce: its code was not issued for this browser's sign-in, or the provider leaves out the nonce it is sent",
    'denied: oidc nonce missing',
  ],
];

for (const [what, make, details, note] of otherSignIns)
  test(`an ID token with ${what} is the browser's 400 (its code was another sign-in's), not the provider's failure`, async () => {
    next = make;
    const before = reached;
    const failed = row().counts.failed;
    const back = await signIn();
    assert.equal(back.status, 400, back.text.slice(0, 300));
    assert.equal(back.headers['proxy-status'], `candor; error=http_request_error; details="${details}"`);
    assert.ok(
      (back.headers['set-cookie'] ?? []).some((c) =>
        /^_candor_session_flow_[\w-]{12}=; .*Max-Age=0$/.test(c),
      ),
      String(back.headers['set-cookie']),
    );
    assert.ok(!(back.headers['set-cookie'] ?? []).some((c) => c.startsWith('_candor_session=')));
    const line = await gw.logFor(back.headers['x-request-id'] as string);
    assert.equal(line.auth, note);
    assert.equal(reached, before);
    assert.equal(row().counts.failed, failed);
  });

/**
 * `count` sign-ins begun at `at`, each taken to the provider's answer, then those answers brought
 * back one after another: the gateway's answers at the redirect path. Begun first, so that no
 * discovery asked as a sign-in begins (a success of the provider's) comes between them.
 */
async function answersInARow(at: TestGateway, count: number) {
  const begun = [];
  for (let i = 0; i < count; i++) {
    const browser = new HttpBrowser();
    const toCallback = await browser.go(`${at.url}/page`, (url) => url.pathname === '/oauth2/callback');
    assert.equal(toCallback.status, 302);
    begun.push({ browser, callback: new URL(toCallback.headers.location as string, toCallback.url).href });
  }
  const answers = [];
  for (const { browser, callback } of begun)
    answers.push(await browser.go(callback, (url) => url.pathname === '/page'));
  return answers;
}

test('ID tokens of other sign-ins in a row do not open the provider’s circuit: a browser cannot shut sign-in for all', async () => {
  next = (nonce) => ({ claims: claims(nonce, { nonce: `${nonce}x` }), key });
  for (const answer of await answersInARow(gw, 6))
    assert.equal(answer.status, 400, answer.text.slice(0, 300));
  next = (nonce) => ({ claims: claims(nonce), key });
  const back = await signIn();
  assert.equal(back.status, 302, back.text.slice(0, 300));
  assert.equal(back.headers.location, '/page');
});

const cases: [string, (nonce: string) => { claims: Record<string, unknown>; key: Key }, RegExp][] = [
  ['an aud not the client', (n) => ({ claims: claims(n, { aud: 'another-client' }), key }), /\\"aud\\"/],
  [
    'an azp naming another client',
    (n) => ({ claims: claims(n, { aud: [CLIENT_ID, 'another-client'], azp: 'another-client' }), key }),
    /\\"azp\\"/,
  ],
  [
    'an exp gone by',
    (n) => ({
      claims: claims(n, {
        iat: Math.floor(Date.now() / 1000) - 900,
        exp: Math.floor(Date.now() / 1000) - 600,
      }),
      key,
    }),
    /\\"exp\\"/,
  ],
  [
    'an iss not the provider’s',
    (n) => ({ claims: claims(n, { iss: 'https://elsewhere.example' }), key }),
    /\\"iss\\"/,
  ],
  [
    'a signature its published key did not make',
    (n) => ({ claims: claims(n), key: strangerKey }),
    /SIGNATURE/,
  ],
];

for (const [what, make, named] of cases)
  test(`an ID token with ${what} is the hop's 502 naming it, never a 401, a 500 or a session`, async () => {
    // A good sign-in first: five refusals in a row would open the provider's circuit (a 503), as documented.
    next = (nonce) => ({ claims: claims(nonce), key });
    assert.equal((await signIn()).status, 302);
    next = make;
    const before = reached;
    const failed = row().counts.failed;
    const back = await signIn();
    assert.equal(back.status, 502, back.text.slice(0, 300));
    const proxyStatus = back.headers['proxy-status'] as string;
    assert.match(proxyStatus, /^candor; error=http_protocol_error; details="the token endpoint: /);
    assert.match(proxyStatus, named);
    assert.match(proxyStatus, /; next-hop="auth:oidc"$/);
    assert.equal(back.headers['www-authenticate'], undefined);
    assert.ok(!(back.headers['set-cookie'] ?? []).some((c) => c.startsWith('_candor_session=')));
    const line = await gw.logFor(back.headers['x-request-id'] as string);
    assert.equal(line.auth, 'failed: http_protocol_error');
    assert.equal(reached, before);
    // The provider's row on the status page counts it, as its last failure.
    assert.equal(row().counts.failed, failed + 1);
    assert.match(String(row().last_failure?.details), /^the token endpoint: /);
  });

/**
 * Five ID tokens in a row the gateway cannot use open the provider's circuit, whichever check
 * refused them: oauth4webapi's (`aud`) or the gateway's own signature check. The token endpoint
 * answered them to the gateway over its own connection: the provider failing, as its garbage is.
 */
for (const [what, make] of [
  ['an aud not the client', (n: string) => ({ claims: claims(n, { aud: 'another-client' }), key })],
  ['a signature its published key did not make', (n: string) => ({ claims: claims(n), key: strangerKey })],
] as const)
  test(`five ID tokens in a row with ${what} open the provider's circuit: the next sign-in is told at once`, async () => {
    const fresh = await gateway();
    try {
      next = make;
      for (const answer of await answersInARow(fresh, 5))
        assert.equal(answer.status, 502, answer.text.slice(0, 300));
      next = (nonce) => ({ claims: claims(nonce), key });
      const back = await signIn(fresh);
      assert.equal(back.status, 503, back.text.slice(0, 300));
      assert.match(
        back.headers['proxy-status'] as string,
        /^candor; error=destination_unavailable; details="[^"]*its circuit is open after 5 failures in a row"; next-hop="auth:oidc"$/,
      );
      assert.ok(Number(back.headers['retry-after']) >= 1);
    } finally {
      await fresh.close();
    }
  });

test("five renewals in a row whose ID token has a bad signature open the provider's circuit too", async () => {
  const fresh = await gateway();
  try {
    next = (n) => ({ claims: claims(n, { nonce: undefined }), key: strangerKey });
    const seal = new CookieSeal(COOKIE_SECRET, 'session');
    /** A session past its end, with a refresh token: its next request must renew it. */
    const ended = (i: number) =>
      seal.seal({
        c: claims('', { nonce: undefined }),
        r: `refresh-${i}`,
        a: Date.now() - 3600_000,
        e: Date.now() - 1000,
      });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await request(fresh.url, {
        path: '/page',
        headers: { cookie: `_candor_session=${await ended(i)}` },
      });
      statuses.push(res.status);
      if (i === 5)
        assert.match(
          res.headers['proxy-status'] as string,
          /^candor; error=destination_unavailable; details="the token endpoint: its circuit is open after 5 failures in a row"; next-hop="auth:oidc"$/,
        );
    }
    assert.deepEqual(statuses, [502, 502, 502, 502, 502, 503]);
  } finally {
    await fresh.close();
  }
});
