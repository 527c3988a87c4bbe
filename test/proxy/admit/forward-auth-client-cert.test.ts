/**
 * Forward auth on a listener that verifies client certificates: the auth service decides by
 * identity, so it is told the verified certificate as the upstream is (RFC 9440's Client-Cert and
 * Client-Cert-Chain), never a client's own copy of those fields, and nothing for a certificate the
 * listener did not verify.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { after, before, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { type AuthService, startAuthService } from '../../helpers/auth-service.ts';
import { type ClientCa, makeClientCa } from '../../helpers/client-ca.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';

const server = testCertificates();
let clients: ClientCa;
let alice: { cert: Buffer; key: Buffer };
let other: ClientCa;
let app: Fault;
let service: AuthService;
let gw: TestGateway;

before(async () => {
  clients = makeClientCa();
  other = makeClientCa();
  alice = clients.issue('alice');
  other.issue('mallory');
  app = await startEcho();
  service = await startAuthService((_req, res) => res.writeHead(200, { 'x-user': 'someone' }).end());
  gw = await startGatewayFromText(`listen:
  - address: 127.0.0.1:0
    tls:
      cert: ${server.localhost.certPath}
      key: ${server.localhost.keyPath}
      client_certificates: { ca: ${clients.ca}, crl: ${clients.crl}, mode: optional }
routes:
  - name: both
    match: { path: /both }
    upstream: app
    auth:
      client_certificate: {}
      forward: { url: "${service.url}", send_headers: [client-cert, client-cert-chain, x-who] }
  - name: forward
    match: { path: /forward }
    upstream: app
    auth:
      forward: { url: "${service.url}", send_headers: [client-cert, x-who] }
  - name: kept
    match: { path: /kept }
    upstream: app
    auth:
      forward: { url: "${service.url}", cache: { key: "header:x-who", ttl: 60s } }
upstreams:
  app:
    targets:
      - url: ${app.url}
`);
});

after(async () => {
  await closeAll(gw, service, app);
  clients?.remove();
  other?.remove();
});

function ask(path: string, who: { cert: Buffer; key: Buffer } | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1',
      port: gw.port,
      path,
      servername: 'localhost',
      ca: server.ca,
      agent: false,
      headers: { 'client-cert': ':AAAA:', 'client-cert-chain': ':AAAA:', 'x-who': 'test' },
      ...who,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.end();
  });
}

test('the auth service is told the verified certificate (Client-Cert, Client-Cert-Chain), as the upstream is', async () => {
  for (const path of ['/both', '/forward']) {
    const before = service.asked.length;
    assert.equal(await ask(path, alice), 200, path);
    assert.equal(service.asked.length, before + 1);
    const asked = service.asked.at(-1);
    assert.equal(asked?.['client-cert'], clients.der('alice'), path);
    assert.equal(asked?.['client-cert-chain'], `:${derOfCa(clients.ca)}:`, path);
    assert.equal(asked?.['x-who'], 'test');
    assert.equal(app.received.at(-1)?.headers['client-cert'], clients.der('alice'));
  }
});

test('a certificate the listener did not verify, or none, tells the service nothing, and never the client’s copy', async () => {
  const mallory = other.issue('mallory');
  for (const who of [mallory, undefined]) {
    const before = service.asked.length;
    assert.equal(await ask('/forward', who), 200);
    assert.equal(service.asked.length, before + 1);
    const asked = service.asked.at(-1);
    assert.equal(asked?.['client-cert'], undefined);
    assert.equal(asked?.['client-cert-chain'], undefined);
  }
});

test('a kept decision is the certificate’s too: another certificate with the same key is asked again', async () => {
  const bob = clients.issue('bob');
  const before = service.asked.length;
  for (const who of [alice, alice, bob, bob, undefined]) assert.equal(await ask('/kept', who), 200);
  assert.deepEqual(
    service.asked.slice(before).map((asked) => asked['client-cert']),
    [clients.der('alice'), clients.der('bob'), undefined],
  );
});

/** A PEM file's certificate as a Structured Field byte sequence (its base64 DER). */
function derOfCa(path: string): string {
  return readFileSync(path, 'utf8').replace(/-----[^-]+-----|\s/g, '');
}
