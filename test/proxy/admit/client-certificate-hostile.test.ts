/**
 * Client certificates a CA issued with hostile contents, and identity fields a client forges,
 * through a real gateway over real TLS (`optional` listener): a DNS SAN with a NUL
 * (`billing.acme.example\0.evil.com`), a URI SAN holding `, URI:` and the allowed name, 300 SANs
 * before the allowed one, a URI SAN of 3,000 bytes as the user, a certificate issued for servers
 * only (`serverAuth`), and the identity and certificate fields spelled with `_` over HTTP/2.
 * The SANs are written as DER, byte for byte, past what openssl's config syntax would allow.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { type ClientCa, makeClientCa } from '../../helpers/client-ca.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';

const server = testCertificates();
let clients: ClientCa;
let app: Fault;
let gw: TestGateway;
type Pair = { readonly cert: Buffer; readonly key: Buffer };
const pairs: Record<string, Pair> = {};

/** A DER length. */
function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = Buffer.from(n.toString(16).padStart(n < 0x100 ? 2 : 4, '0'), 'hex');
  return Buffer.concat([Buffer.from([0x80 | bytes.length]), bytes]);
}
const tlv = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag]), length(body.length), body]);
const DNS = 0x82;
const URI = 0x86;
/** A subjectAltName extension of these GeneralNames, in openssl's arbitrary-extension syntax. */
function sanDer(names: readonly (readonly [number, string])[]): string {
  const inner = Buffer.concat(names.map(([tag, value]) => tlv(tag, Buffer.from(value, 'latin1'))));
  return `DER:${tlv(0x30, inner).toString('hex')}`;
}
const ACME = 'spiffe://example.org/partner/acme';

before(async () => {
  clients = makeClientCa();
  pairs.alice = clients.issue('alice');
  pairs.nul = clients.issue('nul', { san: sanDer([[DNS, 'billing.acme.example\0.evil.com']]) });
  pairs.comma = clients.issue('comma', { san: sanDer([[URI, `spiffe://example.org/x, URI:${ACME}`]]) });
  pairs.many = clients.issue('many', {
    san: sanDer([...Array.from({ length: 300 }, (_, i) => [DNS, `h${i}.example`] as const), [URI, ACME]]),
  });
  pairs.long = clients.issue('long', { san: sanDer([[URI, `spiffe://example.org/${'a'.repeat(3000)}`]]) });
  pairs.server = clients.issue('server', { server: true, san: 'DNS:server.example' });
  app = await startEcho();
  gw = await startGatewayFromText(`listen:
  - address: 127.0.0.1:0
    http2: true
    tls:
      cert: ${server.localhost.certPath}
      key: ${server.localhost.keyPath}
      client_certificates: { ca: ${clients.ca}, mode: optional }
routes:
  - match: { path: /open }
    upstream: app
  - match: { path: /secure }
    upstream: app
    auth: { client_certificate: {}, identity_header: X-User }
  - match: { path: /dns }
    upstream: app
    auth:
      client_certificate: { sans: ["dns:billing.acme.example"], identity: san:dns }
      identity_header: X-User
  - match: { path: /spiffe }
    upstream: app
    auth:
      client_certificate: { sans: ["uri:${ACME}"], identity: san:uri }
      identity_header: X-User
  - match: { path: /uri }
    upstream: app
    auth: { client_certificate: { identity: san:uri }, identity_header: X-User }
upstreams:
  app:
    targets:
      - url: ${app.url}
`);
});

after(async () => {
  await closeAll(gw, app);
  clients?.remove();
});

/** One HTTP/1.1 request on a new TLS connection, the client's own X-User on it. */
function ask(path: string, who: Pair): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: gw.port,
      servername: 'localhost',
      ca: server.ca,
      ...who,
    });
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('error', reject);
    socket.on('secureConnect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/plain\r\nConnection: close\r\nX-User: root\r\n\r\n`,
      );
    });
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

/** The X-User fields of the last request the upstream received (any spelling). */
function users(): string[] {
  const last = app.received.at(-1);
  assert.ok(last !== undefined, 'the upstream received nothing');
  return last.rawHeaders.filter(([name]) => /^x[-_]user$/i.test(name)).map(([, value]) => value);
}

const lastLine = (path: string) => gw.logs.filter((l) => l.msg === 'request' && l.path === path).at(-1);

test('a DNS SAN with a NUL before another domain is not the name before it: 403', async () => {
  const before = app.received.length;
  assert.equal((await ask('/dns', pairs.nul)).status, 403);
  assert.equal(app.received.length, before);
});

test('a URI SAN that holds ", URI:" and the allowed name is one name, not two: 403', async () => {
  const before = app.received.length;
  assert.equal((await ask('/spiffe', pairs.comma)).status, 403);
  assert.equal(app.received.length, before);
});

test('the allowed SAN after 300 others lets the certificate in, named by it', async () => {
  assert.equal((await ask('/spiffe', pairs.many)).status, 200);
  assert.deepEqual(users(), [ACME]);
});

test('a user name of 3,000 bytes (a URI SAN) is no one: not told upstream, not logged, the client copy dropped', async () => {
  assert.equal((await ask('/uri', pairs.long)).status, 200);
  assert.deepEqual(users(), []);
  const line = await gw.accessLine(gw.logs.filter((l) => l.msg === 'request').length);
  assert.equal(line.path, '/uri');
  assert.equal(line.user, undefined);
});

test('a certificate of the trusted CA issued for servers only is refused as that, not as another CA', async () => {
  const before = app.received.length;
  const answer = await ask('/secure', pairs.server);
  assert.equal(answer.status, 403);
  assert.match(
    answer.body,
    /the client certificate was not accepted: it is not issued for client authentication/,
  );
  assert.doesNotMatch(answer.body, /certificate authority/);
  assert.equal(app.received.length, before);
  assert.equal(lastLine('/secure')?.auth, 'denied: client certificate: INVALID_PURPOSE');
});

test('HTTP/2: identity and certificate fields spelled with "_" or in part are dropped, with a certificate and without', async () => {
  const forged = {
    x_user: 'root',
    'x-user': 'root',
    x_ssl_client_verify: 'SUCCESS',
    'x-ssl-client_s-dn': 'CN=root',
    client_cert: ':AAAA:',
    'x-amzn-mtls-clientcert-subject': 'CN=root',
  };
  for (const [path, who, expected] of [
    ['/open', undefined, ['root', 'root']],
    ['/secure', pairs.alice, ['alice']],
  ] as const) {
    const session = http2.connect(`https://localhost:${gw.port}`, { ca: server.ca, ...who });
    const status = await new Promise<number>((resolve, reject) => {
      const request = session.request({ ':path': path, ...forged });
      request.on('response', (head) => resolve(Number(head[':status'])));
      request.on('error', reject);
      request.resume();
      request.end();
    });
    session.close();
    assert.equal(status, 200);
    // On /open, X-User is no identity field (no identity_header there): it goes on as sent.
    assert.deepEqual(users(), [...expected]);
    const fields = app.received.at(-1)?.rawHeaders ?? [];
    assert.deepEqual(
      fields
        .filter(([name]) => /ssl|amzn|client[-_]cert$/i.test(name))
        .map(([name, value]) => [name, value.slice(0, 1)]),
      who === undefined ? [] : [['client-cert', ':']],
    );
  }
});
