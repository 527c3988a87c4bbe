/**
 * A TLS handshake that fails on a listener is counted by why
 * (`candor_client_tls_handshake_failures_total`) and told in a line (`TLS handshake failed`, at
 * most one a reason a second): on a listener that requires a client certificate, a client that
 * sent none and one whose certificate its CAs do not vouch for (which Node closes after the
 * handshake without an error of its own); a client that refuses the gateway's certificate with an
 * alert; one that speaks no TLS version the listener does; plain HTTP on the TLS port; one that
 * sends nothing in time. A client that closes before its handshake ends is counted, not told.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect as connectTcp, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { type ConnectionOptions, connect } from 'node:tls';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { type TestCertificates, testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { type ClientCa, makeClientCa } from '../../helpers/client-ca.ts';
import { closeAll } from '../../helpers/keep.ts';
import {
  type LogLine,
  singleUpstream,
  startTestGateway,
  type TestGateway,
} from '../../helpers/test-gateway.ts';

let certs: TestCertificates;
let clients: ClientCa;
let gw: TestGateway;
let origin: Awaited<ReturnType<typeof startEcho>>;

before(async () => {
  certs = await testCertificates();
  clients = makeClientCa();
  origin = await startEcho();
  gw = await startTestGateway(
    singleUpstream(origin.url, { extra: 'limits:\n  header_timeout: 400ms' }),
    {},
    `tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath}, ` +
      `client_certificates: { ca: ${clients.ca}, mode: require } }`,
  );
});

after(async () => {
  await closeAll(gw, origin);
  clients?.remove();
});

/** A TLS client's attempt, settled when its connection is over (its error, if any). */
function handshake(options: ConnectionOptions): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: gw.port, servername: 'localhost', ...options });
    let error: string | undefined;
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code;
    });
    socket.on('secureConnect', () => socket.resume());
    socket.on('close', () => resolve(error));
  });
}

/** The line of the next failed handshake of this reason (among the log's lines from `from` on). */
async function lineOf(reason: string, from = 0): Promise<LogLine> {
  for (let i = 0; i < 100; i++) {
    const line = gw.logs.slice(from).find((l) => l.msg === 'TLS handshake failed' && l.reason === reason);
    if (line !== undefined) return line;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no line for ${reason}: ${JSON.stringify(gw.logs)}`);
}

async function failures(reason: string): Promise<number> {
  const { text } = await gw.gateway.metrics.exposition();
  const line = text
    .split('\n')
    .find(
      (l) => l.startsWith('candor_client_tls_handshake_failures_total{') && l.includes(`reason="${reason}"`),
    );
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

test('a client without a certificate: the alert, counted and told', async () => {
  assert.equal(await handshake({ ca: certs.ca }), 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
  const line = await lineOf('no_client_certificate');
  assert.equal(line.level, 'info');
  assert.equal(line.listener, '127.0.0.1:0');
  assert.equal(line.client, '127.0.0.1');
  assert.equal(line.sni, 'localhost');
  assert.equal(line.details, 'peer did not return a certificate');
  assert.equal(line.failed, 1);
  assert.equal(await failures('no_client_certificate'), 1);
});

test('a certificate the CAs do not vouch for: closed after the handshake, with its verdict told', async () => {
  // The kit's client certificate is issued by another CA than the listener's.
  await handshake({ ca: certs.ca, cert: certs.client.cert, key: certs.client.key });
  const line = await lineOf('client_certificate_refused');
  assert.equal(line.details, 'SELF_SIGNED_CERT_IN_CHAIN');
  assert.equal(line.client, '127.0.0.1');
  assert.equal(line.sni, 'localhost');
  assert.equal(await failures('client_certificate_refused'), 1);
  // One the CAs issued still gets in.
  const good = clients.issue('device-1');
  assert.equal(await handshake({ ca: certs.ca, cert: good.cert, key: good.key }), undefined);
  assert.equal(await failures('client_certificate_refused'), 1);
});

// OpenSSL's security level 2 (Node 24's default; tls-floor.ts asks for it where the default is
// lower, Node 22's OpenSSL 3.0, which took this certificate and served its request).
test('a certificate its CAs vouch for but with a 1024-bit RSA key: refused, told', async () => {
  const before = origin.received.length;
  const lines = gw.logs.length;
  const weak = clients.issue('weak-device', { weakRsa: true });
  // The client's own OpenSSL at level 0, or it would not send such a key at all.
  await handshake({ ca: certs.ca, cert: weak.cert, key: weak.key, ciphers: 'DEFAULT:@SECLEVEL=0' });
  const line = await lineOf('client_certificate_refused', lines);
  // Node's verdict for it names no reason (UNSPECIFIED), as it does for an upstream's (tls-classify.ts).
  assert.equal(line.client, '127.0.0.1');
  assert.equal(origin.received.length, before);
});

test("a client that refuses the gateway's certificate: its alert, told", async () => {
  // OpenSSL's own client sends the alert (Node's closes without one): trusting another CA than
  // the one that issued the gateway's certificate, it answers that certificate with unknown_ca.
  await new Promise<void>((resolve) => {
    const client = spawn(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${gw.port}`,
        '-servername',
        'localhost',
        '-verify_return_error',
      ].concat(['-CAfile', clients.ca]),
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    client.on('close', () => resolve());
  });
  const line = await lineOf('client_alert');
  assert.equal(line.details, 'tlsv1 alert unknown ca');
  assert.equal(line.sni, 'localhost');
  assert.equal(await failures('client_alert'), 1);
});

test('no TLS version in common: protocol, with OpenSSL’s words', async () => {
  await handshake({
    ca: certs.ca,
    maxVersion: 'TLSv1.1',
    minVersion: 'TLSv1',
    ciphers: 'DEFAULT:@SECLEVEL=0',
  });
  const line = await lineOf('protocol');
  assert.equal(line.details, 'unsupported protocol');
  assert.equal(await failures('protocol'), 1);
});

test('plain HTTP on the TLS port: plain_http (and its plain-text answer)', async () => {
  const answer = await new Promise<string>((resolve) => {
    const socket = connectTcp(gw.port, '127.0.0.1');
    let got = '';
    socket.on('data', (chunk) => {
      got += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(got));
    socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
  });
  assert.match(answer, /^HTTP\/1\.1 400 /);
  const line = await lineOf('plain_http');
  assert.equal(line.details, 'http request');
  assert.equal(await failures('plain_http'), 1);
});

test('no ClientHello within header_timeout: timeout', async () => {
  await new Promise<void>((resolve) => {
    const socket: Socket = connectTcp(gw.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
  const line = await lineOf('timeout');
  assert.equal(line.client, '127.0.0.1');
  assert.equal(await failures('timeout'), 1);
});

test('a client gone before its handshake ended: counted, no line', async () => {
  const before = await failures('closed');
  await new Promise<void>((resolve) => {
    const socket = connectTcp(gw.port, '127.0.0.1', () => {
      // The start of a ClientHello, then the close.
      socket.end(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00]));
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
  for (let i = 0; i < 100 && (await failures('closed')) === before; i++)
    await new Promise((r) => setTimeout(r, 50));
  assert.equal(await failures('closed'), before + 1);
  assert.equal(
    gw.logs.some((l) => l.msg === 'TLS handshake failed' && l.reason === 'closed'),
    false,
  );
});
