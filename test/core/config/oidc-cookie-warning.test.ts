/**
 * `candor check` on two OpenID Connect routes of different sign-ins (issuer or client_id) that
 * share a session cookie name, the default `_candor_session` included, on a host both may serve:
 * a browser keeps one cookie of a name per host, and a session one route made is refused by the
 * other, so a user going between them signs in again each time. The warning names both routes
 * and the field to set; routes of one sign-in, of other cookie names, or of hosts apart get none.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { configWarnings } from '../../../src/core/config/warnings.ts';
import { SOURCE, withRoutes } from './config-fixture.ts';

const ENV = { OIDC_COOKIE: 'x'.repeat(32) };

interface Sign {
  readonly name: string;
  readonly host?: string;
  readonly issuer?: string;
  readonly clientId?: string;
  readonly cookie?: string;
}

function route({
  name,
  host,
  issuer = 'https://idp.example.com',
  clientId = 'candor',
  cookie,
}: Sign): string {
  const match = host === undefined ? `{ path: /${name} }` : `{ host: "${host}", path: /${name} }`;
  const cookieName = cookie === undefined ? '' : `, name: ${cookie}`;
  return `  - name: ${name}
    match: ${match}
    upstream: api
    auth:
      oidc:
        issuer: ${issuer}
        client_id: ${clientId}
        redirect_path: /${name}/oauth2/callback
        logout_path: /${name}/oauth2/sign_out
        cookie: { secret_env: OIDC_COOKIE${cookieName} }
`;
}

const warningsOf = (...routes: Sign[]) =>
  configWarnings(parseConfig(withRoutes(routes.map(route).join('')), SOURCE, ENV)).filter((w) =>
    w.includes('.auth.oidc.cookie'),
  );

const WARNING = (at: number, earlier: string, cookie: string, other: string) =>
  `routes[${at}].auth.oidc.cookie.name: "${cookie}", the session cookie of route ${earlier} too, on a host both may serve, for another sign-in (${other}): a browser keeps one cookie of that name for a host, so a session one route made is refused by the other, and a user going between them signs in again each time; give each route its own cookie.name`;

test('two sign-ins of other client_ids under the default cookie name: warned, naming both routes and cookie.name', () => {
  assert.deepEqual(warningsOf({ name: 'shop' }, { name: 'admin', clientId: 'candor-admin' }), [
    WARNING(1, 'shop', '_candor_session', 'client_id candor-admin, not candor'),
  ]);
});

test('another issuer, one cookie name set on both: warned', () => {
  assert.deepEqual(
    warningsOf(
      { name: 'shop', cookie: 'sess', host: 'app.example.com' },
      { name: 'partners', cookie: 'sess', issuer: 'https://login.partner.test', host: 'app.example.com' },
    ),
    [WARNING(1, 'shop', 'sess', 'issuer https://login.partner.test, not https://idp.example.com')],
  );
});

test('a wildcard host and one of its names may meet; a route with no host meets every host', () => {
  assert.equal(
    warningsOf(
      { name: 'shop', host: '*.example.com' },
      { name: 'admin', host: 'admin.example.com', clientId: 'b' },
    ).length,
    1,
  );
  assert.equal(
    warningsOf({ name: 'shop' }, { name: 'admin', host: 'admin.example.com', clientId: 'b' }).length,
    1,
  );
});

test('no warning: one sign-in on both, cookie names apart, or hosts apart', () => {
  assert.deepEqual(warningsOf({ name: 'shop' }, { name: 'admin' }), []);
  assert.deepEqual(
    warningsOf({ name: 'shop' }, { name: 'admin', clientId: 'b', cookie: '_admin_session' }),
    [],
  );
  assert.deepEqual(
    warningsOf(
      { name: 'shop', host: 'shop.example.com' },
      { name: 'admin', host: 'admin.example.com', clientId: 'b' },
    ),
    [],
  );
});
