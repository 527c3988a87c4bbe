/**
 * Two OpenID providers on one host, told apart by their paths (Keycloak's realms, Azure's
 * tenants: `https://sso.example/realms/staff` and `…/realms/partners`), are two hops: each has a
 * row of its own in `GET /status` (`auth:HOST/PATH`), its own counts and its own circuit. Named
 * by their host alone, they were one row: the failing realm's failures summed with the working
 * one's, under the working one's circuit, closed while the failing one's was open.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET } from '../../helpers/oidc-provider.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const ENV = { OIDC_REALMS_CLIENT_SECRET: CLIENT_SECRET, OIDC_REALMS_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

let sso: http.Server;
let host: string;
let gw: TestGateway;
let app: http.Server;

/** One realm's discovery document (only what a sign-in's beginning reads). */
function discovery(issuer: string) {
  return {
    issuer,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
  };
}

function route(realm: string): string {
  return `  - name: ${realm}
    match: { path: /${realm} }
    upstream: app
    auth:
      oidc:
        issuer: http://${host}/realms/${realm}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_REALMS_CLIENT_SECRET
        redirect_path: /${realm}/oauth2/callback
        logout_path: /${realm}/oauth2/sign_out
        cookie: { secret_env: OIDC_REALMS_COOKIE_SECRET, name: _${realm} }
`;
}

before(async () => {
  // The staff realm answers; the partners realm's discovery fails (a realm being reimported).
  sso = http.createServer((req, res) => {
    const staff = '/realms/staff/.well-known/openid-configuration';
    if (req.url === staff)
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(discovery(`http://${host}/realms/staff`)));
    res.writeHead(500).end('realm unavailable');
  });
  await new Promise<void>((resolve) => sso.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(sso.address() as AddressInfo).port}`;
  app = http.createServer((_req, res) => res.end('app'));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  gw = await startTestGateway(
    `routes:
${route('staff')}${route('partners')}upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(app.address() as AddressInfo).port}
`,
    ENV,
  );
});

after(() => closeAll(gw, sso, app));

test('two providers on one host are two rows of the status, each with its own counts and circuit', async () => {
  const browser = { accept: 'text/html' };
  const staff = await request(gw.url, { path: '/staff/page', headers: browser });
  assert.equal(staff.status, 302, staff.text.slice(0, 300));
  assert.equal(new URL(staff.headers.location as string).pathname, '/realms/staff/auth');
  // Five failures in a row open a provider's circuit: the partners realm's, not the staff one's.
  for (let i = 0; i < 5; i++) {
    const partners = await request(gw.url, { path: '/partners/page', headers: browser });
    assert.equal(partners.status, 503, partners.text.slice(0, 300));
  }
  const hops = gw.gateway.status().auth_hops;
  const staffRow = hops[`auth:${host}/realms/staff`];
  const partnersRow = hops[`auth:${host}/realms/partners`];
  assert.ok(staffRow && partnersRow, JSON.stringify(Object.keys(hops)));
  assert.equal(hops[`auth:${host}`], undefined);
  assert.equal(staffRow.counts.failed, 0);
  assert.equal(staffRow.circuit?.state, 'closed');
  assert.equal(partnersRow.counts.failed, 5);
  assert.equal(partnersRow.circuit?.state, 'open');
  // The staff realm still signs in while the partners realm's circuit is open.
  const again = await request(gw.url, { path: '/staff/other', headers: browser });
  assert.equal(again.status, 302, again.text.slice(0, 300));
});
