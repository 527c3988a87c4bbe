/**
 * An OpenID provider that names no key in its ID tokens (`kid` is optional, RFC 7515 §4.1.4)
 * rotates: it publishes a new key and signs with it. The gateway's keys, fetched before, verify
 * none of its tokens; as for `auth.jwt` (jwt-kidless-refetch.test.ts), that asks for the keys
 * again (within `jwks_min_refresh`), and the sign-in goes through, instead of every sign-in being
 * the hop's 502 until the keys' max-age ran out. oidc-provider always writes a `kid`, so the
 * provider here is a small one of its own: discovery, keys, a token endpoint. A reload that
 * changes `jwks_min_refresh` keeps the provider's hop (its discovery document, keys, answered
 * states) and takes the new interval.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { parseConfig } from '../../../src/core/config/load.ts';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
import { closeAll } from '../../helpers/keep.ts';
import { CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET, HttpBrowser } from '../../helpers/oidc-provider.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';

const ENV = { OIDC_KIDLESS_CLIENT_SECRET: CLIENT_SECRET, OIDC_KIDLESS_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

type Signer = { readonly jwk: JWK; sign(claims: Record<string, unknown>): Promise<string> };

async function kidlessSigner(kid: string): Promise<Signer> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  return {
    jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
    sign: (claims) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey),
  };
}

let issuer = '';
let provider: http.Server;
let app: http.Server;
let gw: TestGateway;
const keys = {
  published: [] as JWK[],
  signer: undefined as Signer | undefined,
  fetches: 0,
  nonce: '',
};
let appPort = 0;

const config = (minRefresh: string) => `listen:
  - address: 127.0.0.1:0
routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      oidc:
        issuer: ${issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_KIDLESS_CLIENT_SECRET
        cookie: { secret_env: OIDC_KIDLESS_COOKIE_SECRET }
        algorithms: [RS256]
        jwks_min_refresh: ${minRefresh}
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${appPort}
`;

before(async () => {
  provider = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (value: unknown, headers: http.OutgoingHttpHeaders = {}) =>
      res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value));
    if (path === '/.well-known/openid-configuration') {
      return json({
        issuer,
        authorization_endpoint: `${issuer}/auth`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    }
    if (path === '/jwks') {
      keys.fetches++;
      return json({ keys: keys.published }, { 'cache-control': 'max-age=300' });
    }
    if (path === '/token' && req.method === 'POST') {
      req.resume();
      req.on('end', async () => {
        const claims = { iss: issuer, aud: CLIENT_ID, sub: 'alice', nonce: keys.nonce };
        const idToken = await (keys.signer as Signer).sign(claims);
        json({ access_token: 'at', token_type: 'Bearer', expires_in: 300, id_token: idToken });
      });
      return;
    }
    res.writeHead(404).end();
  });
  issuer = `http://127.0.0.1:${await listenLoopback(provider)}`;
  app = http.createServer((_req, res) => res.writeHead(200).end('app'));
  appPort = await listenLoopback(app);
  gw = await startGatewayFromText(config('1ms'), ENV);
});

after(() => closeAll(gw, provider, app));

/** A sign-in as a browser makes it: sent to the provider, back at the callback with a code; the gateway's answer there. */
async function signIn(): Promise<{ status: number; proxyStatus: unknown }> {
  const browser = new HttpBrowser();
  const sent = await browser.go(`${gw.url}/page`, (next) => next.href.startsWith(`${issuer}/auth`));
  const authorize = new URL(String(sent.headers.location));
  keys.nonce = authorize.searchParams.get('nonce') ?? '';
  const callback = new URL(authorize.searchParams.get('redirect_uri') ?? '');
  callback.searchParams.set('code', 'a-code');
  callback.searchParams.set('state', authorize.searchParams.get('state') ?? '');
  const back = await browser.go(callback.href, (next) => next.pathname === '/page');
  return { status: back.status, proxyStatus: back.headers['proxy-status'] };
}

test('an ID token without kid, signed by a key the provider published since its keys were fetched, asks for them again', async () => {
  const old = await kidlessSigner('2026-10');
  const next = await kidlessSigner('2026-11');
  keys.published = [old.jwk];
  keys.signer = old;
  assert.deepEqual(await signIn(), { status: 302, proxyStatus: undefined });
  assert.equal(keys.fetches, 1);

  keys.published = [old.jwk, next.jwk];
  keys.signer = next;
  assert.deepEqual(await signIn(), { status: 302, proxyStatus: undefined });
  assert.equal(keys.fetches, 2, 'the keys fetched again, once');

  // A token no published key made is still refused, after at most one more fetch.
  keys.signer = await kidlessSigner('stranger');
  const refused = await signIn();
  assert.equal(refused.status, 502);
  assert.equal(
    refused.proxyStatus,
    'candor; error=http_protocol_error; details="the token endpoint: its ID token was not accepted (ERR_JWS_SIGNATURE_VERIFICATION_FAILED)"; next-hop="auth:oidc"',
  );
  assert.ok(keys.fetches <= 3);
});

test('a reload that changes jwks_min_refresh keeps the provider’s hop and takes the new interval', async () => {
  const fetches = keys.fetches;
  await gw.gateway.reload(parseConfig(config('1h'), '<reload>', ENV));
  const third = await kidlessSigner('2026-12');
  keys.published = [...keys.published, third.jwk];
  keys.signer = third;
  // The keys were fetched within the hour: not again, so this rotation waits for their max-age.
  // A hop built afresh would have fetched them (it holds none): the kept hop's keys. (Its
  // discovery document is asked again whenever the provider was last heard from over a second
  // before a sign-in, issuer-hop.ts's HEARD_MS: a count of those would time the test.)
  assert.equal((await signIn()).status, 502);
  assert.equal(keys.fetches, fetches, 'the keys kept, not fetched again');
});
