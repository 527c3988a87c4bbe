/**
 * An outsider's audit of client certificates on incoming connections, through a real gateway
 * over real TLS: RFC 9440's fields as the upstream reads them (the DER as an sf-binary, the chain
 * without the leaf and in order, every client copy dropped, on a connection without a
 * certificate too), a route's SAN and subject rules (DNS SANs by any case, a SPIFFE URI SAN, an
 * email SAN, a CN with a comma, a certificate with no SAN at all), a certificate not valid yet
 * (403, the log naming why, over HTTP/2 too), and TLS sessions resumed by their `session` (TLS 1.2 and 1.3, HTTP/2
 * too) carrying the certificate to the route's check and to Client-Cert.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { type ClientCa, makeClientCa } from '../../helpers/client-ca.ts';
import { closeAll } from '../../helpers/keep.ts';
import { makeChain } from '../../helpers/openssl-chain.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';

const server = testCertificates();
const chainDir = tempDir('candor-client-chain-');
let clients: ClientCa;
let app: Fault;
let gw: TestGateway;
let chainPort = 0;
type Pair = { readonly cert: Buffer | string; readonly key: Buffer | string };
const pairs: Record<string, Pair> = {};

before(async () => {
  clients = makeClientCa();
  pairs.alice = clients.issue('alice');
  pairs.dnsUpper = clients.issue('billing', { name: 'dns-upper', san: 'DNS:BILLING.Acme.Example' });
  pairs.dnsLonger = clients.issue('billing', { name: 'dns-longer', san: 'DNS:billing.acme.example.evil' });
  pairs.spiffe = clients.issue('acme', { name: 'spiffe', san: 'URI:spiffe://example.org/partner/acme' });
  pairs.spiffeCase = clients.issue('acme', {
    name: 'spiffe-case',
    san: 'URI:spiffe://example.org/Partner/acme',
  });
  pairs.spiffeDeeper = clients.issue('acme', {
    name: 'spiffe-deeper',
    san: 'URI:spiffe://example.org/partner/acme/evil',
  });
  pairs.email = clients.issue('ops', { name: 'email', san: 'email:ops@example.com' });
  pairs.emailLocalCase = clients.issue('ops', { name: 'email-local-case', san: 'email:OPS@example.com' });
  pairs.emailDomainCase = clients.issue('ops', { name: 'email-domain-case', san: 'email:ops@Example.COM' });
  pairs.smith = clients.issue('Smith, John', { name: 'smith', san: '' });
  pairs.bare = clients.issue('bare', { name: 'bare', san: '' });
  pairs.notYet = clients.issue('alice', { name: 'not-yet', startDate: '20990101000000Z' });
  // A root, an intermediate it signed, a client certificate the intermediate signed: the
  // listener's CA file holds the root first, so the chain's order is the walk's, not the file's.
  const chain = makeChain(chainDir, { leafUsage: 'clientAuth' });
  pairs.chained = { cert: chain.chain, key: chain.key };
  writeFileSync(
    join(chainDir, 'cas.pem'),
    readFileSync(join(chainDir, 'root.pem'), 'utf8') +
      readFileSync(join(chainDir, 'intermediate.pem'), 'utf8'),
  );
  app = await startEcho();
  gw = await startGatewayFromText(`listen:
  - address: 127.0.0.1:0
    http2: true
    tls:
      cert: ${server.localhost.certPath}
      key: ${server.localhost.keyPath}
      client_certificates: { ca: ${clients.ca}, crl: ${clients.crl}, mode: optional }
  - address: 127.0.0.1:0
    tls:
      cert: ${server.localhost.certPath}
      key: ${server.localhost.keyPath}
      client_certificates: { ca: ${join(chainDir, 'cas.pem')}, mode: optional }
routes:
  - match: { path: /open }
    upstream: app
  - match: { path: /secure }
    upstream: app
    auth: { client_certificate: {}, identity_header: X-User }
  - match: { path: /dns }
    upstream: app
    auth:
      client_certificate: { sans: ["dns:billing.acme.EXAMPLE"], identity: san:dns }
      identity_header: X-User
  - match: { path: /spiffe }
    upstream: app
    auth:
      client_certificate: { sans: ["uri:spiffe://example.org/partner/acme"], identity: san:uri }
      identity_header: X-User
  - match: { path: /email }
    upstream: app
    auth:
      client_certificate: { sans: ["email:ops@EXAMPLE.com"], identity: san:email }
      identity_header: X-User
  - match: { path: /subject }
    upstream: app
    auth:
      client_certificate: { subjects: ["Smith, John", bare], identity: san:uri }
      identity_header: X-User
upstreams:
  app:
    targets:
      - url: ${app.url}
`);
  chainPort = gw.gateway.listeners[1].port();
});

after(async () => {
  await closeAll(gw, app);
  clients?.remove();
  rmSync(chainDir, { recursive: true, force: true });
});

/** Every field spelling a client may send to pass for a terminator's word on its certificate. */
const SPOOFED = [
  'CLIENT-CERT: :AAAA:',
  'Client-Cert: :BBBB:',
  'client-cert: :CCCC:',
  'Client-Cert-Chain: :AAAA:, :BBBB:',
  'CLIENT-CERT-CHAIN: :CCCC:',
  'X-SSL-Client-Cert: spoofed',
  'X-SSL-Client-Verify: SUCCESS',
  'X-Client-Cert: spoofed',
  'X-Forwarded-Client-Cert: Hash=spoofed',
  'ssl-client-cert: spoofed',
  'SSL-Client-Verify: SUCCESS',
  'X-User: root',
];

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly reused: boolean;
  /** The TLS session to resume with, once the exchange is over. */
  readonly session: Buffer | undefined;
}

/** One HTTP/1.1 request over a new TLS connection (`Connection: close`), its spoofed fields on. */
function ask(
  port: number,
  path: string,
  who: Pair | undefined,
  options: tls.ConnectionOptions = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let session: Buffer | undefined;
    let reused = false;
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: server.ca,
      ...who,
      ...options,
    });
    socket.on('session', (s: Buffer) => {
      session = s;
    });
    socket.on('error', reject);
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('secureConnect', () => {
      reused = socket.isSessionReused();
      socket.write(
        [`GET ${path} HTTP/1.1`, 'Host: localhost', 'Accept: text/plain', 'Connection: close', ...SPOOFED]
          .join('\r\n')
          .concat('\r\n\r\n'),
      );
    });
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      if (status === 0) reject(new Error(`no answer: ${JSON.stringify(text)}`));
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      resolve({ status, body, reused, session });
    });
  });
}

/** The fields of the last request the upstream received, as lower-cased name and value. */
function lastReceived(): (readonly [string, string])[] {
  const last = app.received.at(-1);
  assert.ok(last !== undefined, 'the upstream received nothing');
  return last.rawHeaders.map(([name, value]) => [name.toLowerCase(), value] as const);
}

const of = (name: string) =>
  lastReceived()
    .filter(([n]) => n === name)
    .map(([, v]) => v);

/** Every field the upstream received that some terminator passes a certificate in, or X-User. */
const certificateFields = () =>
  lastReceived().filter(
    ([n]) =>
      n.includes('client-cert') || n.includes('ssl-client') || n.startsWith('x-client') || n === 'x-user',
  );

const der = (pem: Buffer | string) => `:${new X509Certificate(pem).raw.toString('base64')}:`;
const SF_BINARY = /^:[A-Za-z0-9+/]+={0,2}:$/;

test('without a certificate, every client copy of Client-Cert, Client-Cert-Chain and their kin is dropped, in any case and repeated', async () => {
  const answer = await ask(gw.port, '/open', undefined);
  assert.equal(answer.status, 200);
  // (X-User is no identity field on a route without identity_header: it goes on.)
  assert.deepEqual(certificateFields(), [['x-user', 'root']]);
});

test('Client-Cert is the DER as one sf-binary (no PEM armour, no line break); Client-Cert-Chain the issuers, the leaf not in it', async () => {
  assert.equal((await ask(gw.port, '/secure', pairs.alice)).status, 200);
  const [cert, ...more] = of('client-cert');
  assert.deepEqual(more, []);
  assert.match(cert, SF_BINARY);
  assert.equal(cert, clients.der('alice'));
  assert.deepEqual(of('client-cert-chain'), [der(readFileSync(clients.ca))]);
  assert.deepEqual(of('x-user'), ['alice']);
  assert.deepEqual(
    certificateFields().map(([n]) => n),
    ['client-cert', 'client-cert-chain', 'x-user'],
  );
});

test('Client-Cert-Chain holds an intermediate then its root, in that order, each its own sf-binary, never the leaf', async () => {
  assert.equal((await ask(chainPort, '/open', pairs.chained)).status, 200);
  assert.deepEqual(of('client-cert'), [der(pairs.chained.cert)]);
  const intermediate = der(readFileSync(join(chainDir, 'intermediate.pem')));
  const root = der(readFileSync(join(chainDir, 'root.pem')));
  assert.deepEqual(of('client-cert-chain'), [`${intermediate}, ${root}`]);
});

for (const [path, who, status, user] of [
  ['/dns', 'dnsUpper', 200, 'BILLING.Acme.Example'],
  ['/dns', 'dnsLonger', 403, undefined],
  ['/spiffe', 'spiffe', 200, 'spiffe://example.org/partner/acme'],
  ['/spiffe', 'spiffeCase', 403, undefined],
  ['/spiffe', 'spiffeDeeper', 403, undefined],
  ['/email', 'email', 200, 'ops@example.com'],
  ['/email', 'emailLocalCase', 403, undefined],
  // RFC 5280 §7.5: an rfc822Name's host part is compared without case, its local part exactly.
  ['/email', 'emailDomainCase', 200, 'ops@Example.COM'],
  ['/subject', 'smith', 200, undefined],
  ['/subject', 'bare', 200, undefined],
  ['/dns', 'bare', 403, undefined],
  ['/spiffe', 'alice', 403, undefined],
] as const) {
  test(`${path} with the ${who} certificate: ${status}${user === undefined ? '' : ` as ${user}`}`, async () => {
    const before = app.received.length;
    const answer = await ask(gw.port, path, pairs[who]);
    assert.equal(answer.status, status);
    if (status === 403) {
      assert.match(answer.body, /the client certificate is not one this route allows/);
      assert.equal(app.received.length, before);
      return;
    }
    // No SAN of identity's type: no user, and the client's own X-User is not passed for one.
    assert.deepEqual(of('x-user'), user === undefined ? [] : [user]);
    assert.deepEqual(of('client-cert'), [der(pairs[who].cert)]);
  });
}

test('a certificate not valid yet: 403 that says so, the log naming CERT_NOT_YET_VALID', async () => {
  const before = app.received.length;
  const answer = await ask(gw.port, '/secure', pairs.notYet);
  assert.equal(answer.status, 403);
  assert.match(answer.body, /the client certificate was not accepted: it is not valid yet/);
  assert.equal(app.received.length, before);
  // The access line is written as the response closes, which may be after the client read it.
  const denied = () =>
    gw.logs.find((l) => l.msg === 'request' && l.auth === 'denied: client certificate: CERT_NOT_YET_VALID');
  for (let i = 0; i < 50 && denied() === undefined; i++)
    await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(denied()?.status, 403);
});

for (const version of ['TLSv1.2', 'TLSv1.3'] as const)
  test(`${version}: a session resumed by the client's \`session\` keeps its certificate for the route's check and Client-Cert`, async () => {
    const options = { minVersion: version, maxVersion: version };
    const first = await ask(gw.port, '/spiffe', pairs.spiffe, options);
    assert.equal(first.status, 200);
    assert.ok(first.session, 'a session to resume');
    // Resumed without presenting the certificate again: the session must carry it.
    const again = await ask(gw.port, '/spiffe', undefined, { ...options, session: first.session });
    assert.equal(again.reused, true, 'the session was resumed');
    assert.equal(again.status, 200);
    assert.deepEqual(of('x-user'), ['spiffe://example.org/partner/acme']);
    assert.deepEqual(of('client-cert'), [der(pairs.spiffe.cert)]);
    const line = gw.logs.filter((l) => l.msg === 'request' && l.path === '/spiffe').at(-1);
    assert.equal(line?.user, 'spiffe://example.org/partner/acme');
  });

test('HTTP/2: a resumed session keeps its certificate too', async () => {
  const first = await ask(gw.port, '/open', pairs.spiffe, { ALPNProtocols: ['http/1.1'] });
  assert.ok(first.session);
  const session = http2.connect(`https://localhost:${gw.port}`, {
    host: '127.0.0.1',
    servername: 'localhost',
    ca: server.ca,
    session: first.session,
  });
  try {
    const answer = await new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
      session.on('error', reject);
      const stream = session.request({ ':path': '/spiffe', 'client-cert': ':AAAA:' });
      let status = 0;
      stream.on('response', (headers) => {
        status = Number(headers[':status']);
      });
      stream.resume();
      stream.on('end', () =>
        resolve({ status, reused: (session.socket as tls.TLSSocket).isSessionReused() }),
      );
      stream.on('error', reject);
    });
    assert.equal(answer.reused, true);
    assert.equal(answer.status, 200);
    assert.deepEqual(of('client-cert'), [der(pairs.spiffe.cert)]);
    assert.deepEqual(of('x-user'), ['spiffe://example.org/partner/acme']);
  } finally {
    session.close();
  }
});

/** One HTTP/2 request on a new session: its status and body. */
function askOverHttp2(path: string, who: Pair | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://localhost:${gw.port}`, {
      host: '127.0.0.1',
      servername: 'localhost',
      ca: server.ca,
      ...who,
    });
    session.on('error', reject);
    const stream = session.request({ ':path': path, accept: 'text/plain' });
    let status = 0;
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
    });
    stream.on('data', (chunk: string) => {
      body += chunk;
    });
    stream.on('end', () => {
      session.close();
      resolve({ status, body });
    });
    stream.on('error', reject);
  });
}

for (const [who, says, note] of [
  [undefined, 'this route needs a client certificate, and the connection sent none', 'no certificate'],
  ['notYet', 'the client certificate was not accepted: it is not valid yet', 'CERT_NOT_YET_VALID'],
] as const)
  test(`HTTP/2, ${who ?? 'no'} certificate: 403 that says so (no TLS alert), the log naming ${note}`, async () => {
    const before = app.received.length;
    const logged = gw.logs.length;
    const answer = await askOverHttp2('/secure', who === undefined ? undefined : pairs[who]);
    assert.equal(answer.status, 403);
    assert.match(answer.body, new RegExp(says));
    assert.equal(app.received.length, before);
    const denied = () =>
      gw.logs
        .slice(logged)
        .find((l) => l.msg === 'request' && l.auth === `denied: client certificate: ${note}`);
    for (let i = 0; i < 50 && denied() === undefined; i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(denied()?.protocol, 'HTTP/2');
  });
