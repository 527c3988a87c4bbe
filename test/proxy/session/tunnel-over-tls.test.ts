/**
 * A tunnel whose sides are TLS: a TLS listener's client (its bytes through OpenSSL, not the plain
 * listener's direct reads) and an https target. A 1 MiB message each way, then the client's
 * half-close, as on plain sockets.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

const UPGRADE =
  'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('a TLS client through a TLS listener to an https target: 1 MiB echoed whole, then the half-close, logged', async () => {
  const certs = testCertificates();
  // The https upstream: switches on the first head, then echoes, and ends its half after the client's.
  const upstream = tls.createServer(
    { cert: certs.localhost.cert, key: certs.localhost.key, allowHalfOpen: true },
    (s) => {
      let head = '';
      const onHead = (d: Buffer) => {
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        s.off('data', onHead);
        s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
        s.on('data', (c: Buffer) => s.write(c));
      };
      s.on('data', onHead);
      s.on('end', () => s.end());
      s.on('error', () => {});
    },
  );
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const target = `https://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const gw = await startTestGateway(
    singleUpstream(target, { upstream: `    tls: { ca: ${certs.caPath}, servername: localhost }\n` }),
    {},
    `tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }`,
  );
  try {
    const payload = randomBytes(1024 * 1024);
    const echoed = await new Promise<Buffer>((resolve, reject) => {
      const socket = tls.connect({
        port: gw.port,
        host: '127.0.0.1',
        servername: 'localhost',
        ca: certs.ca,
      });
      let raw = Buffer.alloc(0);
      let sent = false;
      socket.on('data', (d: Buffer) => {
        raw = Buffer.concat([raw, d]);
        if (!sent && raw.includes('\r\n\r\n')) {
          sent = true;
          socket.end(payload);
        }
      });
      socket.on('end', () => resolve(raw.subarray(raw.indexOf('\r\n\r\n') + 4)));
      socket.on('error', reject);
      socket.write(`${UPGRADE}X-Request-Id: tls-both\r\n\r\n`);
    });
    assert.equal(sha(echoed), sha(payload));
    const line = await gw.logFor('tls-both');
    assert.deepEqual(
      [line.status, line.upgraded, line.tunnel_closed_by, line.bytes_out],
      [101, true, 'client', payload.length],
    );
  } finally {
    await gw.close();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  }
});
