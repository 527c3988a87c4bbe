/**
 * What a failed TLS handshake with an upstream says in its details (Proxy-Status and the log
 * line alike): what was wrong in plain words, as nginx's error log says it ("certificate has
 * expired", "EE certificate key too weak", "peer closed connection in SSL handshake"), not
 * Node's code alone. A weak key and a SHA-1 signature were both "certificate rejected
 * (UNSPECIFIED)", a FIN in the middle of the handshake read as a reset (ECONNRESET), and a
 * certificate for another name did not say which names it carries.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { assertGatewayError, onlyLogLine } from '../../helpers/gateway-error.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const certificates = testCertificates();
const servers: net.Server[] = [];
const received: string[] = [];
let gw: TestGateway;

/** A localhost leaf of the kit's CA with an RSA key of 1024 bits (OpenSSL's default level refuses it). */
function weakKeyLeaf(): { cert: string; key: string } {
  const { dir } = certificates;
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-newkey',
      'rsa:1024',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost',
      '-keyout',
      'weak.key',
      '-out',
      'weak.pem',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return {
    cert: readFileSync(join(dir, 'weak.pem'), 'utf8'),
    key: readFileSync(join(dir, 'weak.key'), 'utf8'),
  };
}

/** A leaf of the kit's CA with no DNS name and a common name of terminal escapes (OSC title, CSI clear, C1's CSI). */
function hostileNameLeaf(): { cert: string; key: string } {
  const { dir } = certificates;
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-utf8',
      '-subj',
      '/CN=x\u001b]0;pwned\u0007\u001b[2J\u009by',
      '-keyout',
      'hostile-name.key',
      '-out',
      'hostile-name.pem',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return {
    cert: readFileSync(join(dir, 'hostile-name.pem'), 'utf8'),
    key: readFileSync(join(dir, 'hostile-name.key'), 'utf8'),
  };
}

async function listen(server: net.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

function httpsServer(options: https.ServerOptions): https.Server {
  return https.createServer(options, (req, res) => {
    received.push(req.url ?? '');
    res.end('ok');
  });
}

/** A TCP server that reads the ClientHello, then ends (FIN) or resets (RST) the connection. */
function endsAfterHello(how: 'fin' | 'rst'): net.Server {
  return net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => (how === 'fin' ? socket.end() : socket.resetAndDestroy()));
  });
}

before(async () => {
  const { expired, wrongHost } = certificates;
  const ports = {
    expired: await listen(httpsServer({ cert: expired.cert, key: expired.key })),
    wrongName: await listen(httpsServer({ cert: wrongHost.cert, key: wrongHost.key })),
    // A server may send it: only the client's security level refuses it.
    weakKey: await listen(httpsServer({ ...weakKeyLeaf(), ciphers: 'DEFAULT:@SECLEVEL=0' })),
    hostileName: await listen(httpsServer(hostileNameLeaf())),
    fin: await listen(endsAfterHello('fin')),
    rst: await listen(endsAfterHello('rst')),
  };
  let routes = 'routes:\n';
  let upstreams = 'upstreams:\n';
  for (const [name, port] of Object.entries(ports)) {
    routes += `  - match: { path: /${name} }\n    upstream: ${name}\n`;
    upstreams += `  ${name}:\n    targets: [{ url: "https://localhost:${port}" }]\n    tls: { ca: ${certificates.caPath} }\n`;
  }
  // An IP-literal target sends no SNI and is checked against its address, which details never say.
  routes += '  - match: { path: /byAddress }\n    upstream: byAddress\n';
  upstreams += `  byAddress:\n    targets: [{ url: "https://127.0.0.1:${ports.wrongName}" }]\n    tls: { ca: ${certificates.caPath} }\n`;
  gw = await startTestGateway(`name: edge-1\n${routes}${upstreams}`);
});

after(async () => {
  await gw?.close();
  for (const server of servers) server.close();
});

async function refused(path: string, error: string, details: RegExp): Promise<void> {
  const res = await request(gw.url, { path, headers: { accept: 'application/json' } });
  const id = assertGatewayError(res, {
    status: 502,
    error,
    details,
    nextHop: path.slice(1),
    retryAfter: null,
    format: 'problem+json',
  });
  const line = await onlyLogLine(gw, id);
  assert.equal(line.error, error);
  assert.match(String(line.details), details);
  assert.equal(line.upstream, path.slice(1));
  assert.equal(line.stage, 'not_sent');
  assert.deepEqual(received, [], 'nothing reached an upstream');
}

test('an expired certificate: the details say it expired', async () => {
  await refused(
    '/expired',
    'tls_certificate_error',
    /^certificate rejected: it has expired \(CERT_HAS_EXPIRED\) after [\d.]+ ms$/,
  );
});

test('a certificate for another name: the details say the name asked for and the names it carries', async () => {
  await refused(
    '/wrongName',
    'tls_certificate_error',
    /^certificate rejected: it is for other\.example, not for localhost \(ERR_TLS_CERT_ALTNAME_INVALID\) after [\d.]+ ms$/,
  );
});

test('a certificate that does not name an IP-literal target: the details say its names, not the address', async () => {
  await refused(
    '/byAddress',
    'tls_certificate_error',
    /^certificate rejected: it is for other\.example, not for the target's address \(ERR_TLS_CERT_ALTNAME_INVALID\) after [\d.]+ ms$/,
  );
});

test("a certificate whose common name holds terminal escapes: quoted with '?' for them, no body carries them raw", async () => {
  // The upstream's certificate is the upstream's text: its CN went into the text/plain body (a
  // client's curl obeyed the ESC and C1 sequences: a title set, the screen cleared), problem+json
  // (C1 raw) and the HTML page as it was, where every other peer text they quote is printable ASCII.
  await refused(
    '/hostileName',
    'tls_certificate_error',
    /^certificate rejected: it is for CN x\?\]0;pwned\?\?\[2J\?y \(no DNS name\), not for localhost \(ERR_TLS_CERT_ALTNAME_INVALID\) after [\d.]+ ms$/,
  );
  for (const accept of ['text/plain', 'text/html', 'application/problem+json']) {
    const res = await request(gw.url, { path: '/hostileName', headers: { accept } });
    assert.equal(res.status, 502, accept);
    assert.match(res.text, /CN x\?\]0;pwned/, accept);
    assert.doesNotMatch(res.text, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/, accept);
  }
});

test('an RSA key of 1024 bits: the details say the key is too weak, not UNSPECIFIED alone', async () => {
  await refused(
    '/weakKey',
    'tls_certificate_error',
    /^certificate rejected: its key is too weak \(EE certificate key too weak, UNSPECIFIED\) after [\d.]+ ms$/,
  );
});

test('a FIN in the middle of the handshake: the details say the upstream closed it, not a reset', async () => {
  await refused(
    '/fin',
    'tls_protocol_error',
    /^TLS handshake failed: the upstream closed the connection before the handshake was done \(it may refuse the SNI name, or speak no TLS\) after [\d.]+ ms$/,
  );
});

test('a reset in the middle of the handshake: the details say reset (ECONNRESET)', async () => {
  await refused(
    '/rst',
    'tls_protocol_error',
    /^TLS handshake failed: the upstream reset the connection during the handshake \(ECONNRESET\) after [\d.]+ ms$/,
  );
});
