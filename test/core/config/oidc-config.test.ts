/** routes[].auth.oidc: its fields normalised with their defaults, its secrets' variables and its paths checked. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { secretsOf } from '../../../src/core/config/secrets.ts';
import { configView } from '../../../src/server/admin/config-view.ts';
import { problemsOf, SOURCE, withRoutes } from './config-fixture.ts';

const ENV = { OIDC_SECRET: 'client-secret', OIDC_COOKIE: 'x'.repeat(32) };

const route = (path: string, extra = '') =>
  withRoutes(`  - match: { path: ${path} }
    upstream: api
    auth:
      oidc:
        issuer: https://idp.example.com
        client_id: candor
        client_secret_env: OIDC_SECRET
        cookie: { secret_env: OIDC_COOKIE }
${extra}`);

test('auth.oidc with its defaults: openid asked, oauth2-proxy’s paths, the JWT path’s algorithms and clock skew', () => {
  const config = parseConfig(route('/'), SOURCE, ENV);
  assert.deepEqual(config.routes[0].access?.auth?.oidc, {
    issuer: 'https://idp.example.com',
    clientId: 'candor',
    clientSecretEnv: 'OIDC_SECRET',
    scopes: ['openid'],
    redirectPath: '/oauth2/callback',
    logoutPath: '/oauth2/sign_out',
    postLogoutRedirect: '/',
    cookieName: '_candor_session',
    cookieSecretEnv: 'OIDC_COOKIE',
    allowed: [],
    identityClaim: 'sub',
    claimsToHeaders: [],
    algorithms: ['RS256', 'ES256'],
    clockSkew: 30_000,
    timeout: 5000,
    jwksMinRefresh: 30_000,
  });
  const set = parseConfig(
    route('/', '        scopes: [email, openid]\n        allowed: { groups: [staff, ops] }\n'),
    SOURCE,
    ENV,
  );
  assert.deepEqual(set.routes[0].access?.auth?.oidc?.scopes, ['openid', 'email']);
  assert.deepEqual(set.routes[0].access?.auth?.oidc?.allowed, [
    { claim: 'groups', values: ['staff', 'ops'] },
  ]);
});

test('auth.oidc.claims_to_headers: the session’s claims told upstream as JWT’s are; never a framing, Candor-written or RFC 9440 field', () => {
  const config = parseConfig(
    route('/', '        claims_to_headers: { email: X-User-Email, groups: X-User-Groups }\n'),
    SOURCE,
    ENV,
  );
  assert.deepEqual(config.routes[0].access?.auth?.oidc?.claimsToHeaders, [
    { claim: 'email', header: 'X-User-Email' },
    { claim: 'groups', header: 'X-User-Groups' },
  ]);
  assert.deepEqual(
    problemsOf(
      route('/', '        claims_to_headers: { size: Content-Length, cert: Client-Cert, bad: "a b" }\n'),
      ENV,
    ).map((p) => `${p.line} ${p.path}`),
    [
      '12 routes[0].auth.oidc.claims_to_headers.size',
      '12 routes[0].auth.oidc.claims_to_headers.cert',
      '12 routes[0].auth.oidc.claims_to_headers.bad',
    ],
  );
});

test('auth.oidc.jwks_min_refresh: the least time between two fetches of the provider’s keys, 30s as auth.jwt’s by default', () => {
  const config = parseConfig(route('/', '        jwks_min_refresh: 1ms\n'), SOURCE, ENV);
  assert.equal(config.routes[0].access?.auth?.oidc?.jwksMinRefresh, 1);
  assert.deepEqual(
    problemsOf(route('/', '        jwks_min_refresh: soon\n'), ENV).map((p) => `${p.line} ${p.path}`),
    ['12 routes[0].auth.oidc.jwks_min_refresh'],
  );
});

test('the secrets’ variables must be set, the cookie’s long enough; --without-secrets lets them be absent', () => {
  const told = (env: NodeJS.ProcessEnv) => problemsOf(route('/'), env).map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(told({}), [
    'routes[0].auth.oidc.client_secret_env: the variable OIDC_SECRET is not set',
    'routes[0].auth.oidc.cookie.secret_env: the variable OIDC_COOKIE is not set',
  ]);
  assert.deepEqual(told({ ...ENV, OIDC_COOKIE: 'short' }), [
    "routes[0].auth.oidc.cookie.secret_env: the variable OIDC_COOKIE holds 5 characters: the session cookie's secret needs 32 or more",
  ]);
  const checked = parseConfig(route('/'), SOURCE, {}, { secrets: 'may-be-absent' });
  // What `candor check --without-secrets` lists as serve's to have.
  assert.deepEqual(
    secretsOf(checked).map((s) => `${s.field} ${JSON.stringify(s.source)}`),
    [
      'routes[0].auth.oidc.client_secret_env {"env":"OIDC_SECRET"}',
      'routes[0].auth.oidc.cookie.secret_env {"env":"OIDC_COOKIE"}',
    ],
  );
});

test('the redirect and logout paths must reach the route; one way to authenticate', () => {
  assert.deepEqual(
    problemsOf(route('/app'), ENV).map((p) => `${p.path}: ${p.message}`),
    [
      "routes[0].auth.oidc.redirect_path: /oauth2/callback is not under the route's path /app: the provider's answer would never reach this route",
      "routes[0].auth.oidc.logout_path: /oauth2/sign_out is not under the route's path /app: the provider's answer would never reach this route",
    ],
  );
  assert.doesNotThrow(() =>
    parseConfig(
      route('/app', '        redirect_path: /app/cb\n        logout_path: /app/out\n'),
      SOURCE,
      ENV,
    ),
  );
  const two = problemsOf(route('/', '      jwt: { jwks_url: https://idp.example.com/jwks }\n'), ENV);
  assert.deepEqual(
    two.map((p) => p.message),
    [
      'expected one way to authenticate: basic, jwt, forward or oidc (client_certificate may go with one of them)',
    ],
  );
});

test('auth.oidc.issuer with credentials (user:password@) is refused with its line, as jwks_url is: fetch refuses such a URL, and GET /config would show it', () => {
  const problems = problemsOf(
    route('/').replace('issuer: https://idp.example.com', 'issuer: https://gw:s3cret@idp.example.com'),
    ENV,
  );
  assert.deepEqual(
    problems.map((p) => `${p.line} ${p.path}: ${p.message}`),
    [
      "8 routes[0].auth.oidc.issuer: a URL with credentials (user:password@) is one the Fetch standard refuses to fetch: the gateway could never read the provider's discovery document; give the issuer as its ID tokens name it, with none",
    ],
  );
  assert.ok(!JSON.stringify(problems).includes('s3cret'), JSON.stringify(problems));
});

test('auth.oidc.store.redis: the session store with its defaults; its password never shown by GET /config', () => {
  const config = parseConfig(
    route('/', '        store: { redis: { url: "redis://:hunter2@10.0.0.9:6379" } }\n'),
    SOURCE,
    ENV,
  );
  assert.deepEqual(config.routes[0].access?.auth?.oidc?.store, {
    redis: { url: 'redis://:hunter2@10.0.0.9:6379', timeout: 1000, prefix: 'candor:' },
  });
  const shown = configView(config).routes[0].access?.auth?.oidc?.store;
  assert.equal(shown?.redis.url, 'redis://:***@10.0.0.9:6379');
  const told = (extra: string) => problemsOf(route('/', extra), ENV).map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(told('        store: { redis: { url: "http://10.0.0.9" } }\n'), [
    'routes[0].auth.oidc.store.redis.url: expected a redis:// or rediss:// URL, got "http://10.0.0.9"',
  ]);
  assert.equal(told('        store: { redis: { url: "redis://10.0.0.9", on_error: deny } }\n').length, 1);
});

// Each part of the session cookie carries up to 3,800 bytes of value beside its name, and a
// browser keeps 4,096 of name, value and attributes: a name of some 200 characters made every
// part one the browser drops without a word, and no user stayed signed in.
test('auth.oidc.cookie.name is at most 64 characters: a longer one would push the session cookie past what a browser keeps', () => {
  const long = `s${'x'.repeat(64)}`;
  const problems = problemsOf(
    route('/').replace(
      'cookie: { secret_env: OIDC_COOKIE }',
      `cookie: { name: ${long}, secret_env: OIDC_COOKIE }`,
    ),
    ENV,
  );
  assert.deepEqual(
    problems.map((p) => `${p.line} ${p.path}: ${p.message}`),
    [`11 routes[0].auth.oidc.cookie.name: expected a cookie name of at most 64 characters, got "${long}"`],
  );
  assert.equal(
    parseConfig(
      route('/').replace(
        'cookie: { secret_env: OIDC_COOKIE }',
        `cookie: { name: ${'s'.repeat(64)}, secret_env: OIDC_COOKIE }`,
      ),
      SOURCE,
      ENV,
    ).routes[0].access?.auth?.oidc?.cookieName,
    's'.repeat(64),
  );
});
