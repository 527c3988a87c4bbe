/**
 * ID tokens a provider should never sign, from a small provider of the test's own (oidc-provider
 * signs none of them): a `nonce` not the sign-in's, none at all, an `aud` not the gateway's
 * client, an `azp` naming another client, an `exp` gone by, a signature its published key did not
 * make, an `iss` not the provider's. Each is the token endpoint's own answer to the gateway, which
 * no user brought: the hop's 502 `http_protocol_error` naming what was wrong (as the docs say),
 * never a 401, a 500 or a session; the app never reached; the provider's row on the status page
 * counting it. The same provider's good token signs in.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
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
  let nonce = '';
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
    // The authorization endpoint: straight back with a code, as a provider whose user is signed in.
    if (url.pathname === '/auth') {
      nonce = url.searchParams.get('nonce') ?? '';
      const back = new URL(url.searchParams.get('redirect_uri') ?? '');
      back.searchParams.set('code', 'a-code');
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      return void res.writeHead(302, { location: back.href }).end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      req.resume();
      req.on('end', async () => {
        const made = next(nonce);
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
  const appPort = await listenLoopback(app);
  gw = await startGatewayFromText(
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
});

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

/** A browser's sign-in through the provider: the gateway's answer at the redirect path. */
async function signIn() {
  const browser = new HttpBrowser();
  return browser.go(`${gw.url}/page`, (url) => url.pathname === '/page');
}

test('a good ID token from this provider signs in (the control)', async () => {
  next = (nonce) => ({ claims: claims(nonce), key });
  const back = await signIn();
  assert.equal(back.status, 302, back.text.slice(0, 300));
  assert.equal(back.headers.location, '/page');
});

const cases: [string, (nonce: string) => { claims: Record<string, unknown>; key: Key }, RegExp][] = [
  ['a nonce not the sign-in’s', (n) => ({ claims: claims(n, { nonce: `${n}x` }), key }), /\\"nonce\\"/],
  ['no nonce', (n) => ({ claims: claims(n, { nonce: undefined }), key }), /\\"nonce\\"/],
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
