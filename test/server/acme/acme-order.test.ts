/**
 * The ACME protocol layer against a real CA (Debian's pebble, validating for real): an order
 * by each challenge ends in a chain for the names that verifies up to the CA's root; a CA that
 * refuses (a challenge nobody answers) is told with its problem document's type and detail.
 * The responders here are the smallest that answer; the gateway's own are tested with it.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { challengeCertificate } from '../../../src/core/tls/challenge-certificate.ts';
import { AcmeClient } from '../../../src/server/acme/acme-client.ts';
import { type ChallengeSolver, orderCertificate } from '../../../src/server/acme/acme-order.ts';
import { AcmeProblem } from '../../../src/server/acme/acme-problem.ts';
import { type Pebble, startPebble } from '../../helpers/pebble.ts';

const tokens = new Map<string, string>();
const alpn = new Map<string, tls.SecureContext>();
let httpServer: http.Server;
let tlsServer: tls.Server;
let pebble: Pebble;
/** When false, the HTTP-01 responder answers 404 to everything: the CA's validation fails. */
let answering = true;

before(async () => {
  httpServer = http.createServer((req, res) => {
    const token = req.url?.replace('/.well-known/acme-challenge/', '') ?? '';
    const answer = answering ? tokens.get(token) : undefined;
    res.writeHead(answer ? 200 : 404, { 'content-type': 'text/plain' }).end(answer ?? 'no such token');
  });
  tlsServer = tls.createServer({
    ALPNProtocols: ['acme-tls/1'],
    SNICallback: (name, callback) => callback(null, alpn.get(name)),
  });
  tlsServer.on('secureConnection', (socket) => socket.end());
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  pebble = await startPebble({
    httpPort: (httpServer.address() as AddressInfo).port,
    tlsPort: (tlsServer.address() as AddressInfo).port,
  });
});

after(async () => {
  await pebble?.stop();
  httpServer?.close();
  tlsServer?.close();
});

const solver: ChallengeSolver = {
  async present(type, name, token, keyAuthorization) {
    if (type === 'http-01') tokens.set(token, keyAuthorization);
    else alpn.set(name, tls.createSecureContext(challengeCertificate(name, keyAuthorization)));
  },
  async cleanup(type, name, token) {
    if (type === 'http-01') tokens.delete(token);
    else alpn.delete(name);
  },
};

function client(): AcmeClient {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return new AcmeClient(pebble.directory, privateKey, { ca: pebble.ca, timeoutMs: 10_000 });
}

async function order(names: string[], challenge: 'http-01' | 'tls-alpn-01'): Promise<X509Certificate[]> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const chain = await orderCertificate(client(), solver, {
    names,
    email: 'ops@example.test',
    certificateKey: privateKey,
    challenges: [challenge],
    deadline: performance.now() + 60_000,
  });
  const pems = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const certs = pems.map((pem) => new X509Certificate(pem));
  assert.ok(certs[0].checkPrivateKey(privateKey), 'the leaf is for the key the CSR was signed with');
  return certs;
}

function assertChain(certs: X509Certificate[], root: X509Certificate, names: string[]): void {
  assert.equal(certs[0].subjectAltName, names.map((n) => `DNS:${n}`).join(', '));
  for (let i = 0; i < certs.length - 1; i++) assert.ok(certs[i].verify(certs[i + 1].publicKey));
  assert.ok(certs.at(-1)!.verify(root.publicKey), 'the chain ends at the CA root');
}

test('an order validated by HTTP-01 gives a chain for both names up to the CA root', {
  timeout: 90_000,
}, async () => {
  const certs = await order(['www.shop.test', 'shop.test'], 'http-01');
  assertChain(certs, new X509Certificate(await pebble.issuingRoot()), ['www.shop.test', 'shop.test']);
  assert.equal(tokens.size, 0, 'the tokens are taken away after the validation');
});

test('an order validated by TLS-ALPN-01 gives a chain for the name', { timeout: 90_000 }, async () => {
  const certs = await order(['alpn.shop.test'], 'tls-alpn-01');
  assertChain(certs, new X509Certificate(await pebble.issuingRoot()), ['alpn.shop.test']);
  assert.equal(alpn.size, 0);
});

test('a validation the CA cannot complete is its problem document, with the name and the challenge', {
  timeout: 90_000,
}, async () => {
  answering = false;
  try {
    await assert.rejects(order(['refused.shop.test'], 'http-01'), (err: unknown) => {
      assert.ok(err instanceof AcmeProblem);
      assert.equal(err.type, 'urn:ietf:params:acme:error:unauthorized');
      assert.match(err.detail, /^refused\.shop\.test \(http-01\): /);
      return true;
    });
  } finally {
    answering = true;
  }
});
