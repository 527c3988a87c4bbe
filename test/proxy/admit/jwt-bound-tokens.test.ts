/**
 * Certificate-bound access tokens (RFC 8705 §3): a JWT whose `cnf` claim holds `x5t#S256` is good
 * only on a connection whose client presented that certificate (the listener verified it), over
 * HTTP/1.1 and HTTP/2, a resumed TLS session too; another certificate, none, a plain connection, a
 * malformed thumbprint or a confirmation method the gateway cannot check is RFC 6750's 401
 * invalid_token, and the upstream sees nothing. A token without `cnf` is what it was;
 * `bound_tokens: ignore` and `require` change that per route.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { type ClientCa, makeClientCa } from '../../helpers/client-ca.ts';
import { h2Status, request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';

type Pair = { readonly cert: Buffer; readonly key: Buffer };

const server = testCertificates();
const dir = tempDir('candor-bound-tokens-');
let clients: ClientCa;
let strangers: ClientCa;
let alice: Pair;
let bob: Pair;
let mallory: Pair;
let app: Fault;
let gw: TestGateway;
let plainPort: number;
let sign: (claims: Record<string, unknown>) => Promise<string>;

/** RFC 8705 §3.1's thumbprint: the base64url SHA-256 of the certificate's DER. */
const thumbprint = (pem: Buffer) =>
  createHash('sha256')
    .update(Buffer.from(pem.toString().replace(/-----[^-]+-----|\s/g, ''), 'base64'))
    .digest('base64url');

before(async () => {
  clients = makeClientCa();
  strangers = makeClientCa();
  alice = clients.issue('alice');
  bob = clients.issue('bob');
  mallory = strangers.issue('mallory');
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const keys = join(dir, 'jwks.json');
  writeFileSync(keys, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }));
  sign = (claims) =>
    new SignJWT({ sub: 'user-7', ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setExpirationTime('5m')
      .sign(privateKey);
  app = await startEcho();
  plainPort = await freePort();
  const jwt = (extra: string) => `{ keys_file: ${keys}, algorithms: [ES256]${extra} }`;
  gw = await startGatewayFromText(`name: edge-1
listen:
  - address: 127.0.0.1:0
    http2: true
    tls:
      cert: ${server.localhost.certPath}
      key: ${server.localhost.keyPath}
      client_certificates: { ca: ${clients.ca}, crl: ${clients.crl}, mode: optional }
  - address: 127.0.0.1:${plainPort}
routes:
  - name: ignore
    match: { path: /ignore }
    upstream: app
    auth: { jwt: ${jwt(', bound_tokens: ignore')} }
  - name: require
    match: { path: /require }
    upstream: app
    auth: { jwt: ${jwt(', bound_tokens: require')} }
  - name: orders
    match: { path: /orders }
    upstream: app
    auth: { jwt: ${jwt('')} }
upstreams:
  app:
    targets:
      - url: ${app.url}
`);
});

after(async () => {
  await closeAll(gw, app);
  clients?.remove();
  strangers?.remove();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly reused: boolean;
}

/** One request over TLS (HTTP/1.1), as `who` (its certificate), with `token`. */
function overTls(
  path: string,
  token: string,
  who: Pair | undefined,
  id: string,
  agent: https.Agent | false = false,
) {
  return new Promise<Answer>((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1',
      port: gw.port,
      path,
      servername: 'localhost',
      ca: server.ca,
      agent,
      headers: { authorization: `Bearer ${token}`, 'x-request-id': id },
      ...who,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const reused = (res.socket as TLSSocket).isSessionReused();
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, reused }));
    });
    req.end();
  });
}

/** How a request the token's binding refused is answered: RFC 6750's invalid_token, and the log says why. */
async function assertRefused(answer: Answer, id: string, why: string, details: string): Promise<void> {
  assert.equal(answer.status, 401, id);
  assert.equal(
    answer.headers['www-authenticate'],
    `Bearer error="invalid_token", error_description="${details}"`,
    id,
  );
  assert.equal(answer.headers['proxy-status'], `edge-1; error=http_request_denied; details="${details}"`, id);
  assert.equal((await gw.logFor(id)).auth, `denied: jwt ERR_JWT_CLAIM_VALIDATION_FAILED (${why})`, id);
}

const OTHER_CERTIFICATE = 'the bearer token is bound to a client certificate this connection did not present';

test('a token bound to a certificate is good on a connection that presented it, over HTTP/1.1 and HTTP/2, and nowhere else', async () => {
  const token = await sign({ cnf: { 'x5t#S256': thumbprint(alice.cert) } });
  const received = app.received.length;
  const good = await overTls('/orders', token, alice, 'bound-alice');
  assert.equal(good.status, 200);
  assert.equal((await gw.logFor('bound-alice')).auth, 'allowed');
  const h2 = await h2Status(`https://localhost:${gw.port}`, '/orders', { ca: server.ca, ...alice }, [
    'authorization',
    `Bearer ${token}`,
  ]);
  assert.equal(h2, 200, 'HTTP/2');
  assert.equal(app.received.length, received + 2);

  // The same token (remembered as good a moment ago) from another client, or none.
  for (const [id, who] of [
    ['bound-bob', bob],
    ['bound-none', undefined],
    ['bound-unverified', mallory],
  ] as const)
    await assertRefused(
      await overTls('/orders', token, who, id),
      id,
      who === bob
        ? "cnf x5t#S256 is not the client certificate's"
        : 'cnf x5t#S256 and no verified client certificate',
      OTHER_CERTIFICATE,
    );
  const h2Bob = await h2Status(`https://localhost:${gw.port}`, '/orders', { ca: server.ca, ...bob }, [
    'authorization',
    `Bearer ${token}`,
    'x-request-id',
    'bound-h2-bob',
  ]);
  assert.equal(h2Bob, 401, 'HTTP/2, another certificate');
  assert.equal(
    (await gw.logFor('bound-h2-bob')).auth,
    "denied: jwt ERR_JWT_CLAIM_VALIDATION_FAILED (cnf x5t#S256 is not the client certificate's)",
  );
  const plain = await request(`http://127.0.0.1:${plainPort}`, {
    path: '/orders',
    headers: { authorization: `Bearer ${token}`, 'x-request-id': 'bound-plain' },
  });
  await assertRefused(
    { status: plain.status, headers: plain.headers, reused: false },
    'bound-plain',
    'cnf x5t#S256 and no verified client certificate',
    OTHER_CERTIFICATE,
  );
  assert.equal(app.received.length, received + 2, 'the upstream saw none of the refused');
});

test('a resumed TLS session still has its certificate to compare', async () => {
  const token = await sign({ cnf: { 'x5t#S256': thumbprint(alice.cert) } });
  for (const [who, status] of [
    [alice, 200],
    [bob, 401],
  ] as const) {
    const agent = new https.Agent({ keepAlive: false, ...who });
    try {
      for (const reused of [false, true]) {
        const answer = await overTls('/orders', token, who, `resumed-${status}-${reused}`, agent);
        assert.equal(answer.reused, reused);
        assert.equal(answer.status, status);
      }
    } finally {
      agent.destroy();
    }
  }
});

test('a malformed thumbprint, or a confirmation method the gateway cannot check, is refused', async () => {
  const received = app.received.length;
  const cases = [
    [{ 'x5t#S256': thumbprint(alice.cert).slice(1) }, 'cnf x5t#S256 is not a SHA-256 thumbprint'],
    [{ 'x5t#S256': `${thumbprint(alice.cert)}=` }, 'cnf x5t#S256 is not a SHA-256 thumbprint'],
    [{ 'x5t#S256': 7 }, 'cnf x5t#S256 is not a SHA-256 thumbprint'],
    ['alice', 'cnf is not a confirmation object'],
    [{}, 'cnf is not a confirmation object'],
    [{ jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' }, 'cnf jkt cannot be checked'],
    [{ 'x5t#S256': thumbprint(alice.cert), jwk: { kty: 'EC' } }, 'cnf jwk cannot be checked'],
  ] as const;
  for (const [i, [cnf, why]] of cases.entries()) {
    const token = await sign({ cnf });
    await assertRefused(
      await overTls('/orders', token, alice, `cnf-${i}`),
      `cnf-${i}`,
      why,
      'the bearer token has a confirmation (cnf) claim the gateway cannot check',
    );
  }
  assert.equal(app.received.length, received);
});

test('a token without cnf is what it was; ignore lets a bound token through, require refuses an unbound one', async () => {
  const unbound = await sign({});
  const bound = await sign({ cnf: { 'x5t#S256': thumbprint(alice.cert) } });
  for (const who of [alice, bob, undefined])
    assert.equal((await overTls('/orders', unbound, who, 'x')).status, 200);
  const plain = await request(`http://127.0.0.1:${plainPort}`, {
    path: '/orders',
    headers: { authorization: `Bearer ${unbound}` },
  });
  assert.equal(plain.status, 200);

  assert.equal((await overTls('/ignore', bound, bob, 'ignore-bob')).status, 200);
  assert.equal((await overTls('/ignore', await sign({ cnf: { jkt: 'x' } }), bob, 'ignore-jkt')).status, 200);

  assert.equal((await overTls('/require', bound, alice, 'require-alice')).status, 200);
  await assertRefused(
    await overTls('/require', unbound, alice, 'require-unbound'),
    'require-unbound',
    'no cnf x5t#S256 claim: bound_tokens require',
    'the bearer token is not bound to a client certificate, and this route takes only bound ones',
  );
});
