/**
 * A route's cache and the users its authentication let in without an Authorization field (a
 * JWT from a cookie, forward auth deciding on a cookie, a client certificate): the gateway did
 * the sign-in, so the app may not know a shared cache stands between it and its users, and
 * answers a personal page with `Cache-Control: max-age=60`. A shared cache keeps an answer to an
 * authenticated request only when the answer allows it (RFC 9111 §3.5: `public`, `s-maxage`,
 * `must-revalidate`): alice's page was stored and given to bob. Basic and a bearer token, which
 * arrive in Authorization, were already read so; a route without auth still stores the page.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { startAuthService } from '../../helpers/auth-service.ts';
import { type ClientCa, makeClientCa } from '../../helpers/client-ca.ts';
import { fileIssuer } from '../../helpers/jwt-issuer.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const server = testCertificates();

/** The user's own page, cacheable as `?cc=` says (`max-age=60` by default), `Vary` as `?vary=` says. */
const app = await keep(
  listenOnLoopback((req, res) => {
    const query = new URL(req.url ?? '/', 'http://app').searchParams;
    const vary = query.get('vary');
    res.writeHead(200, {
      'cache-control': query.get('cc') ?? 'max-age=60',
      'content-type': 'text/plain',
      ...(vary === null ? {} : { vary }),
    });
    // The gateway's identity field, or (forward auth naming nobody) the field the service copied.
    res.end(`page of ${req.headers['x-candor-user'] ?? req.headers['x-user'] ?? 'nobody'}`);
  }),
);

/** Session `a` is alice, `b` is bob; anything else is refused. */
const service = await keep(
  startAuthService((req, res) => {
    const session = /session=(\w+)/.exec(String(req.headers.cookie ?? ''))?.[1];
    const user = session === 'a' ? 'alice' : session === 'b' ? 'bob' : undefined;
    res.writeHead(user === undefined ? 401 : 200, user === undefined ? {} : { 'x-user': user });
    res.end();
  }),
);

const dir = tempDir('candor-signed-in-');
const users = join(dir, 'users.htpasswd');
writeFileSync(users, `alice:${bcrypt.hashSync('apw', 4)}\nbob:${bcrypt.hashSync('bpw', 4)}\n`);
const issuer = await fileIssuer();
let clients: ClientCa;
let gw: TestGateway;

/** Each route: `cache` and one way of signing in, the user told upstream in X-Candor-User. */
const route = (name: string, auth: string) => `  - name: ${name}
    match: { path: /${name} }
    upstream: app
    cache: {}
    auth: { identity_header: X-Candor-User, ${auth} }
`;

before(async () => {
  clients = makeClientCa();
  gw = await startGatewayFromText(`name: edge-1
listen:
  - address: 127.0.0.1:0
    tls:
      cert: ${server.localhost.certPath}
      key: ${server.localhost.keyPath}
      client_certificates: { ca: ${clients.ca}, crl: ${clients.crl}, mode: optional }
routes:
${route('cookie-jwt', `jwt: { keys_file: ${issuer.file}, algorithms: [ES256], cookie: session }`)}${route(
  'forward',
  `forward: { url: ${service.url}, send_headers: [cookie], identity_from: X-User }`,
)}${route(
  'forward-nameless',
  `forward: { url: ${service.url}, send_headers: [cookie], copy_headers: [x-user] }`,
)}${route('certificate', 'client_certificate: {}')}${route(
  'basic',
  `basic: { users_file: ${users} }`,
)}${route('bearer', `jwt: { keys_file: ${issuer.file}, algorithms: [ES256] }`)}  - name: open
    match: { path: /open }
    upstream: app
    cache: {}
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`);
});

after(async () => {
  await gw?.close();
  clients?.remove();
});

/** How one user proves who they are on each route: a field, or a client certificate. */
interface Credentials {
  readonly headers: Record<string, string>;
  readonly certificate?: { readonly cert: Buffer; readonly key: Buffer };
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly cacheStatus: string | undefined;
}

function get(path: string, who: Credentials): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1',
      port: gw.port,
      path,
      servername: 'localhost',
      ca: server.ca,
      agent: false,
      headers: who.headers,
      ...who.certificate,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body, cacheStatus: res.headers['cache-status'] as string }),
      );
    });
    req.end();
  });
}

/** alice's and bob's credentials on each route. */
async function pair(means: string): Promise<[Credentials, Credentials]> {
  switch (means) {
    case 'cookie-jwt':
      return [
        { headers: { cookie: `session=${await issuer.sign('alice')}` } },
        { headers: { cookie: `session=${await issuer.sign('bob')}` } },
      ];
    case 'forward':
    case 'forward-nameless':
      return [{ headers: { cookie: 'session=a' } }, { headers: { cookie: 'session=b' } }];
    case 'certificate':
      return [
        { headers: {}, certificate: clients.issue('alice') },
        { headers: {}, certificate: clients.issue('bob') },
      ];
    case 'basic':
      return [
        { headers: { authorization: `Basic ${Buffer.from('alice:apw').toString('base64')}` } },
        { headers: { authorization: `Basic ${Buffer.from('bob:bpw').toString('base64')}` } },
      ];
    default:
      return [
        { headers: { authorization: `Bearer ${await issuer.sign('alice')}` } },
        { headers: { authorization: `Bearer ${await issuer.sign('bob')}` } },
      ];
  }
}

// forward-nameless: the service names nobody the gateway logs (no identity_from), but the field it
// copies tells the app who: the request is authenticated all the same.
for (const means of ['cookie-jwt', 'forward', 'forward-nameless', 'certificate', 'basic', 'bearer']) {
  test(`${means}: alice's max-age=60 page is not stored, and bob never gets it`, async () => {
    const [alice, bob] = await pair(means);
    const first = await get(`/${means}/page`, alice);
    assert.deepEqual(first, { status: 200, body: 'page of alice', cacheStatus: 'edge-1; fwd=uri-miss' });
    assert.deepEqual(await get(`/${means}/page`, bob), {
      status: 200,
      body: 'page of bob',
      cacheStatus: 'edge-1; fwd=uri-miss',
    });
    // Nor is alice's own second request given a stored copy: nothing was kept.
    assert.equal((await get(`/${means}/page`, alice)).cacheStatus, 'edge-1; fwd=uri-miss');
  });

  test(`${means}: an answer the origin marks public, s-maxage or must-revalidate is stored, Vary still keying it`, async () => {
    const [alice, bob] = await pair(means);
    for (const cc of ['public, max-age=60', 's-maxage=60', 'max-age=60, must-revalidate']) {
      const path = `/${means}/shared?cc=${encodeURIComponent(cc)}&vary=X-Candor-User,X-User`;
      assert.equal((await get(path, alice)).body, 'page of alice');
      const again = await get(path, alice);
      assert.equal(again.body, 'page of alice');
      assert.match(String(again.cacheStatus), /^edge-1; hit; ttl=/, cc);
      const other = await get(path, bob);
      assert.equal(other.body, 'page of bob', cc);
      assert.equal(other.cacheStatus, 'edge-1; fwd=vary-miss', cc);
    }
    // Public without Vary is the operator's choice of one page for all: stored, and given as stored.
    const path = `/${means}/everyone?cc=${encodeURIComponent('public, max-age=60')}`;
    assert.equal((await get(path, alice)).body, 'page of alice');
    const other = await get(path, bob);
    assert.equal(other.body, 'page of alice');
    assert.match(String(other.cacheStatus), /^edge-1; hit; ttl=/);
  });
}

test('a route without auth stores a max-age=60 answer as before', async () => {
  const nobody = { headers: {} };
  assert.deepEqual(await get('/open/page', nobody), {
    status: 200,
    body: 'page of nobody',
    cacheStatus: 'edge-1; fwd=uri-miss',
  });
  const again = await get('/open/page', nobody);
  assert.equal(again.body, 'page of nobody');
  assert.match(String(again.cacheStatus), /^edge-1; hit; ttl=60/);
});
