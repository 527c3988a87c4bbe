/**
 * A TLS listener closes a connection whose client ended it before any ClientHello (a load
 * balancer's TCP health check: connect, then close) as the FIN comes, drain or not: such a
 * connection can never carry a request. Its socket was half-open until the handshake bound
 * (limits.header_timeout), holding a connection slot, and a drain, that long.
 *
 * No time is measured: header_timeout is 10 minutes, and the close is awaited with a bound of
 * seconds, far below it.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';

const certs = testCertificates();

test('a TCP connection closed by its client before its ClientHello is closed at once, not at header_timeout', {
  timeout: 30_000,
}, async () => {
  const gw = await startGatewayFromText(`listen:
  - address: 127.0.0.1:0
    tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }
name: edge-1
limits: { header_timeout: 10m }
routes:
  - redirect: { location: "https://example.com/" }
`);
  const probe = net.connect(gw.port, '127.0.0.1');
  probe.on('error', () => {});
  try {
    await new Promise<void>((resolve) => probe.once('connect', () => resolve()));
    // The client's side ends (FIN); its socket closes only once the gateway closes its own.
    probe.end();
    const closed = await Promise.race([
      new Promise<'closed'>((resolve) => probe.once('close', () => resolve('closed'))),
      new Promise<'still open'>((resolve) => setTimeout(() => resolve('still open'), 10_000).unref()),
    ]);
    assert.equal(closed, 'closed', 'the gateway closed its side of the connection');
    assert.equal(await gw.gateway.listeners[0].connections(), 0);
  } finally {
    probe.destroy();
    await gw.close();
  }
});
