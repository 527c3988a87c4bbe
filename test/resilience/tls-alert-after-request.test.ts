/**
 * A TLS alert that ends a connection after the request went out. Only a TLS 1.3 server checking
 * the client's side of the handshake (a client certificate) refuses the request that way before
 * its application reads it (test/upstream/connections/client-certificate.test.ts); any other
 * alert then (bad_record_mac, internal_error…) ends a session whose application may have read
 * the request and acted on it. Taken for a refused handshake (`tls_alert_received`, not sent),
 * a POST the upstream had read was sent again to the next target. Real TLS: the upstream's own
 * TLS layer meets a corrupt record once it has the whole request, and answers with its alert.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { test } from 'node:test';
import { createSecureContext, type SecureVersion, TLSSocket } from 'node:tls';
import { testCertificates } from '../../src/kits/fault-kit/tls-certs.ts';
import { startHttpsEcho } from '../../src/kits/fault-kit/tls-faults.ts';
import { request } from '../helpers/http-client.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';

/**
 * A TLS server that reads each whole request (recording its request line), then feeds its own
 * TLS layer a record that fails to decrypt: OpenSSL ends the session with a fatal
 * bad_record_mac alert to the gateway, its application having read the request.
 */
async function startAlertAfterRequest(maxVersion: SecureVersion) {
  const certificates = testCertificates();
  const seen: string[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    // A stream of its own under the TLS session, so that the test can put bytes in its way in.
    const wire = new Duplex({
      read() {},
      write(chunk, _encoding, done) {
        socket.write(chunk, done);
      },
      final(done) {
        socket.end();
        done();
      },
    });
    socket.on('data', (chunk) => wire.push(chunk));
    socket.on('end', () => wire.push(null));
    const secure = new TLSSocket(wire, {
      isServer: true,
      secureContext: createSecureContext({ ...certificates.localhost, maxVersion }),
    });
    secure.on('error', () => {});
    let pending = '';
    secure.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      const end = pending.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = pending.slice(0, end);
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (pending.length < end + 4 + length) return;
      seen.push(head.split('\r\n')[0]);
      // An application-data record of 32 bytes that no key made.
      wire.push(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20]), Buffer.alloc(32, 7)]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    caPath: certificates.caPath,
    seen,
    close: () => {
      server.close();
    },
  };
}

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  test(`${version}: an alert after the upstream read the request is no refused handshake: a POST is never sent again, a GET goes to the next target`, async () => {
    const alerting = await startAlertAfterRequest(version);
    const healthy = await startHttpsEcho();
    const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    balancer: round_robin
    targets: [{ url: "${alerting.url}" }, { url: "${healthy.url}" }]
    tls: { ca: ${alerting.caPath} }
    outlier_detection: { consecutive_failures: 0 }
    circuit_breaker: { consecutive_failures: 0 }
`);
    try {
      // Round robin: the first request goes to the alerting target, the second to the healthy one.
      const post = await request(gw.url, {
        method: 'POST',
        path: '/pay',
        body: 'amount=10',
        headers: { 'x-request-id': 'pay' },
      });
      assert.deepEqual(alerting.seen, ['POST /pay HTTP/1.1'], 'the upstream read the POST');
      assert.equal(post.status, 502);
      assert.match(
        String(post.headers['proxy-status']),
        /^edge-1; error=connection_terminated; details="connection ended by the upstream with TLS alert bad_record_mac before the response head after /,
      );
      assert.equal(healthy.received.length, 0, 'the POST was not sent again');
      const postLine = await gw.logFor('pay');
      assert.equal(postLine.stage, 'sent');
      assert.equal(postLine.attempts, 1);
      assert.equal(postLine.retry_skipped, 'not_idempotent');

      await request(gw.url, { path: '/turn' }); // the healthy target's turn
      const get = await request(gw.url, { path: '/read', headers: { 'x-request-id': 'read' } });
      assert.equal(get.status, 200);
      assert.deepEqual(alerting.seen, ['POST /pay HTTP/1.1', 'GET /read HTTP/1.1']);
      const getLine = await gw.logFor('read');
      assert.deepEqual(
        (getLine.tries as { target: string; error?: string; status?: number }[]).map((t) => [
          t.target,
          t.error ?? t.status,
        ]),
        [
          [alerting.url, 'connection_terminated'],
          [healthy.url, 200],
        ],
      );
    } finally {
      await gw.close();
      await healthy.close();
      alerting.close();
    }
  });
}

/**
 * The same over HTTP/2: a secure HTTP/2 server whose TLS layer, once a stream's request is whole,
 * is fed the record that fails to decrypt (one connection at a time); or one that answers 200.
 */
async function startH2(alerting: boolean) {
  const certificates = testCertificates();
  const seen: string[] = [];
  const h2 = http2.createSecureServer({ ...certificates.localhost });
  h2.on('sessionError', () => {});
  let wireNow: Duplex | undefined;
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    const wire = new Duplex({
      read() {},
      write(chunk, _encoding, done) {
        socket.write(chunk, done);
      },
      final(done) {
        socket.end();
        done();
      },
    });
    socket.on('data', (chunk) => wire.push(chunk));
    socket.on('end', () => wire.push(null));
    wireNow = wire;
    h2.emit('connection', wire);
  });
  h2.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    stream.resume();
    stream.on('end', () => {
      seen.push(`${headers[':method']} ${headers[':path']}`);
      if (alerting)
        wireNow?.push(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20]), Buffer.alloc(32, 7)]));
      else {
        stream.respond({ ':status': 200 });
        stream.end('ok');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { url: `https://127.0.0.1:${port}`, caPath: certificates.caPath, seen, close: () => server.close() };
}

test('HTTP/2: an alert on the session after the upstream read a POST: 502 connection_terminated, not sent again', async () => {
  const alerting = await startH2(true);
  const healthy = await startH2(false);
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    protocol: h2
    balancer: round_robin
    targets: [{ url: "${alerting.url}" }, { url: "${healthy.url}" }]
    tls: { ca: ${alerting.caPath} }
    outlier_detection: { consecutive_failures: 0 }
    circuit_breaker: { consecutive_failures: 0 }
`);
  try {
    const post = await request(gw.url, {
      method: 'POST',
      path: '/pay',
      body: 'amount=10',
      headers: { 'x-request-id': 'pay' },
    });
    assert.deepEqual(alerting.seen, ['POST /pay'], 'the upstream read the POST');
    assert.equal(post.status, 502);
    assert.match(
      String(post.headers['proxy-status']),
      /^edge-1; error=connection_terminated; details="connection ended by the upstream with TLS alert bad_record_mac before the response head after /,
    );
    assert.deepEqual(healthy.seen, [], 'the POST was not sent again');
    const line = await gw.logFor('pay');
    assert.equal(line.stage, 'sent');
    assert.equal(line.retry_skipped, 'not_idempotent');
  } finally {
    await gw.close();
    alerting.close();
    healthy.close();
  }
});
