/**
 * `listen[].client_certificates_from: forwarded`: behind a TLS terminator that checked the
 * client's certificate (RFC 9440), the certificate it passes in `Client-Cert` is the request's,
 * from a proxy in `trust_forwarded_from` only. Through a real gateway on a plain listener, the
 * proxy played by this process from 127.0.0.1 (trusted) and a client from 127.0.0.2 (not), over
 * HTTP/1.1 and HTTP/2 (h2c), and a reload that turns it off on the kept listener.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { type ClientCa, makeClientCa } from '../../helpers/client-ca.ts';
import { h2Get } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';

let clients: ClientCa;
let app: Fault;
let gw: TestGateway;

before(async () => {
  clients = makeClientCa();
  clients.issue('alice');
  clients.issue('mallory');
  app = await startEcho();
  gw = await startGatewayFromText(
    config('forwarded', '    auth: { client_certificate: { subjects: [alice] }, identity_header: X-User }\n'),
  );
});

/** The gateway's config: its listener's client_certificates_from, and /secure's auth line. */
const config = (from: string, auth: string) => `listen:
  - address: 127.0.0.1:0
    http2: true
    client_certificates_from: ${from}
trust_forwarded_from: [127.0.0.1]
routes:
  - match: { path: /secure }
    upstream: app
${auth}  - match: { path: /open }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${app.url}
`;

after(async () => {
  await closeAll(gw, app);
  clients?.remove();
});

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** One GET with these fields (flat name, value list: a name may come twice), from `from`. */
function ask(path: string, fields: readonly string[], from = '127.0.0.1'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: gw.port,
      path,
      localAddress: from,
      agent: false,
      headers: ['Host', 'localhost', ...fields, 'Accept', 'text/plain'],
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.end();
  });
}

/** The values of a field in the last request the upstream received. */
function received(name: string): string[] {
  const last = app.received.at(-1);
  assert.ok(last !== undefined, 'the upstream received nothing');
  return last.rawHeaders.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

const caDer = () => `:${new X509Certificate(readFileSync(clients.ca)).raw.toString('base64')}:`;

test('a trusted proxy’s Client-Cert of an allowed subject lets the request in, named by it, and the upstream gets the same bytes as Candor’s own', async () => {
  const answer = await ask('/secure', [
    'Client-Cert',
    clients.der('alice'),
    'Client-Cert-Chain',
    caDer(),
    'X-SSL-Client-Verify',
    'SUCCESS',
    'X-User',
    'root',
    'X-Request-Id',
    'fwd-cert-1',
  ]);
  assert.equal(answer.status, 200);
  assert.deepEqual(received('client-cert'), [clients.der('alice')]);
  assert.deepEqual(received('client-cert-chain'), [caDer()]);
  // The proxy's other words on a certificate are dropped: Candor is the one that speaks of it now.
  assert.deepEqual(received('x-ssl-client-verify'), []);
  assert.deepEqual(received('x-user'), ['alice']);
  assert.equal((await gw.logFor('fwd-cert-1')).user, 'alice');
});

test('a trusted proxy’s Client-Cert of a subject the route does not allow: 403 saying so, nothing upstream', async () => {
  const before = app.received.length;
  const answer = await ask('/secure', ['Client-Cert', clients.der('mallory')]);
  assert.equal(answer.status, 403);
  assert.match(answer.body, /the client certificate is not one this route allows/);
  assert.equal(app.received.length, before);
});

test('a trusted proxy that sends no Client-Cert: 403, the connection sent none', async () => {
  const answer = await ask('/secure', []);
  assert.equal(answer.status, 403);
  assert.match(answer.body, /this route needs a client certificate, and the connection sent none/);
});

for (const [what, fields, says] of [
  ['not a byte sequence', ['Client-Cert', 'MIIBalice'], /Client-Cert is not one byte sequence/],
  ['bad base64', ['Client-Cert', ':not base64!:'], /Client-Cert is not one byte sequence/],
  ['no certificate', ['Client-Cert', ':AAAA:'], /Client-Cert holds no X\.509 certificate/],
  ['two fields', ['Client-Cert', ':AAAA:', 'Client-Cert', ':BBBB:'], /Client-Cert is not one byte sequence/],
  ['a chain without a certificate', ['Client-Cert-Chain', ':AAAA:'], /Client-Cert-Chain without Client-Cert/],
  ['an empty one', ['Client-Cert', ''], /Client-Cert is not one byte sequence/],
  [
    'a chain that is no list of byte sequences',
    ['Client-Cert', ':AAAA:', 'Client-Cert-Chain', 'x'],
    /Client-Cert-Chain is not a list of byte sequences/,
  ],
] as const) {
  test(`a trusted proxy’s unreadable certificate (${what}): 400 saying why, on any route`, async () => {
    const before = app.received.length;
    const answer = await ask('/open', fields);
    assert.equal(answer.status, 400);
    assert.match(answer.body, says);
    assert.equal(app.received.length, before);
  });
}

test('a trusted proxy’s Client-Cert without its base64 padding is read (RFC 8941 §4.2.7: a parser does not fail for it), and told upstream padded', async () => {
  // A certificate whose DER is not a multiple of 3 bytes long ends its base64 with `=`: an EC
  // signature's length varies by a byte or two, so one of a few issued is such.
  let padded: string | undefined;
  for (const cn of ['alice', 'carol', 'dave', 'erin', 'frank', 'grace']) {
    if (cn !== 'alice') clients.issue(cn);
    if (clients.der(cn).endsWith('=:')) {
      padded = cn;
      break;
    }
  }
  assert.ok(padded !== undefined, 'a certificate whose base64 is padded');
  const unpadded = (value: string) => value.replace(/=+:$/, ':');
  const answer = await ask('/open', [
    'Client-Cert',
    unpadded(clients.der(padded)),
    'Client-Cert-Chain',
    unpadded(caDer()),
  ]);
  assert.equal(answer.status, 200, answer.body);
  assert.deepEqual(received('client-cert'), [clients.der(padded)]);
  assert.deepEqual(received('client-cert-chain'), [caDer()]);
});

test('a client not in trust_forwarded_from names no certificate: its Client-Cert is dropped, the route answers 403', async () => {
  const answer = await ask('/secure', ['Client-Cert', clients.der('alice')], '127.0.0.2');
  assert.equal(answer.status, 403);
  assert.match(answer.body, /this route needs a client certificate, and the connection sent none/);
  const open = await ask(
    '/open',
    ['Client-Cert', clients.der('alice'), 'Client-Cert-Chain', caDer()],
    '127.0.0.2',
  );
  assert.equal(open.status, 200);
  assert.deepEqual(received('client-cert'), []);
  assert.deepEqual(received('client-cert-chain'), []);
});

test('a client not in trust_forwarded_from with an unreadable Client-Cert is not refused for it: the field is only dropped', async () => {
  const answer = await ask('/open', ['Client-Cert', 'garbage'], '127.0.0.2');
  assert.equal(answer.status, 200);
  assert.deepEqual(received('client-cert'), []);
});

test('over HTTP/2 alike: the trusted proxy’s Client-Cert lets in its subject, and the upstream gets Candor’s', async () => {
  const allowed = await h2Get(gw.url, '/secure', {
    'client-cert': clients.der('alice'),
    accept: 'text/plain',
  });
  assert.equal(allowed.status, 200);
  assert.deepEqual(received('client-cert'), [clients.der('alice')]);
  assert.deepEqual(received('x-user'), ['alice']);
  const refused = await h2Get(gw.url, '/secure', {
    'client-cert': clients.der('mallory'),
    accept: 'text/plain',
  });
  assert.equal(refused.status, 403);
  const unread = await h2Get(gw.url, '/open', { 'client-cert': ':AAAA:', accept: 'text/plain' });
  assert.equal(unread.status, 400);
  assert.match(unread.text, /the forwarded Client-Cert holds no X\.509 certificate/);
});

// Last: it changes the gateway's config.
test('a reload to client_certificates_from: handshake takes effect on the kept listener: the trusted proxy’s fields go on as its own, unread', async () => {
  const outcome = await gw.gateway.reload(parseConfig(config('handshake', ''), '<test>', {}));
  assert.deepEqual(outcome.listeners, { kept: 1, added: [], removed: [] });
  const answer = await ask('/open', ['Client-Cert', ':AAAA:', 'X-SSL-Client-Verify', 'SUCCESS']);
  assert.equal(answer.status, 200);
  assert.deepEqual(received('client-cert'), [':AAAA:']);
  assert.deepEqual(received('x-ssl-client-verify'), ['SUCCESS']);
});
