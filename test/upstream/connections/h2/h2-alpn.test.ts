/**
 * An `h2` upstream whose TLS server completes the handshake without selecting a protocol by
 * ALPN (a TLS server that knows no ALPN at all) does not speak HTTP/2: 502 tls_protocol_error
 * saying so, nothing sent, as docs/configuration.md's `protocol` row says. (One that refuses
 * with the no_application_protocol alert is h2-upstream.test.ts's.)
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { testCertificates } from '../../../../src/kits/fault-kit/tls-certs.ts';
import { request } from '../../../helpers/http-client.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';

test('h2 to a TLS server that selects no protocol: 502 tls_protocol_error, nothing sent', async () => {
  const certificates = testCertificates();
  let bytes = 0;
  const server = tls.createServer(certificates.localhost, (socket) => {
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    protocol: h2
    targets: [{ url: "https://localhost:${(server.address() as AddressInfo).port}" }]
    tls: { ca: ${certificates.caPath} }
    retries: { attempts: 1 }
`);
  try {
    const res = await request(gw.url, {
      path: '/x',
      headers: { 'x-request-id': 'no-alpn', accept: 'text/plain' },
    });
    assert.equal(res.status, 502);
    // Its handshake was done: the body does not ask whether the upstream speaks TLS, nor does
    // `candor explain` say to fix the scheme; it says the protocol (a variant's words).
    assert.match(res.body.toString(), /its TLS server does not speak HTTP\/2 \(ALPN selected no h2\)/);
    assert.doesNotMatch(res.body.toString(), /is it speaking TLS/);
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=tls_protocol_error; details="the upstream did not select h2 by ALPN \(it chose no protocol\): it does not speak HTTP\/2 over TLS, after [\d.]+ ms"; next-hop="app"$/,
    );
    const line = await gw.logFor('no-alpn');
    assert.equal(line.stage, 'not_sent');
    assert.equal(line.variant, 'alpn_not_h2');
    assert.equal(bytes, 0, 'no byte of HTTP/2 reached the server');
  } finally {
    await gw.close();
    server.close();
  }
});
