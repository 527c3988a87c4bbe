/**
 * A TLS 1.2 client cannot renegotiate with a TLS listener (TLS 1.3 has no renegotiation). A
 * renegotiation the client starts costs the server a full handshake, asked for as often as the
 * client likes on one connection (a CPU flood that per-connection limits do not see), and is the
 * door of the renegotiation splicing attacks (CVE-2009-3555); nginx refuses client-initiated
 * renegotiation and BoringSSL-built servers (Envoy) never renegotiate. The connection's first
 * handshake, and the requests after it, are served as before. Real TLS handshakes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import tls from 'node:tls';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

/** A TLS 1.2 connection's answer to one GET, then what its renegotiation came to. */
async function getThenRenegotiate(port: number): Promise<{ answer: string; renegotiated: Error | null }> {
  const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
  socket.on('error', () => {});
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      const read = (chunk: Buffer) => {
        text += chunk.toString('latin1');
        if (!text.includes('\r\n\r\n')) return;
        socket.off('data', read);
        resolve(text);
      };
      socket.on('data', read);
      socket.write('GET /first HTTP/1.1\r\nHost: shop.example\r\n\r\n');
    });
    const renegotiated = await new Promise<Error | null>((resolve) => {
      socket.once('close', () => resolve(new Error('the gateway closed the connection')));
      const asked = socket.renegotiate({ rejectUnauthorized: false }, (err) => resolve(err ?? null));
      if (!asked) resolve(new Error('renegotiation not started'));
    });
    return { answer, renegotiated };
  } finally {
    socket.destroy();
  }
}

test('a TLS 1.2 client that asks to renegotiate is refused; what it sent before was served', async (t) => {
  const app = await startEcho();
  const { certPath, keyPath } = testCertificates().localhost;
  const gw = await startTestGateway(
    `routes:\n  - upstream: app\nupstreams:\n  app:\n    targets: [{ url: ${app.url} }]\n`,
    {},
    `tls: { cert: ${certPath}, key: ${keyPath} }`,
  );
  t.after(async () => {
    await gw.close();
    await app.close();
  });
  const { answer, renegotiated } = await getThenRenegotiate(gw.port);
  assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(renegotiated instanceof Error, 'the renegotiation failed');
  assert.equal(app.received.length, 1, 'the request before it reached the upstream');
});
