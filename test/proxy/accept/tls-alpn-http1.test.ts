/**
 * ALPN on a TLS listener without `http2`: it speaks HTTP/1.1 only and says so (RFC 7301), as
 * nginx and HAProxy do. A client that offers `h2` and `http/1.1` is told `http/1.1`; one that
 * offers only protocols the listener does not speak (`h2` alone, a gRPC client) gets the
 * `no_application_protocol` alert (RFC 7301 §3.2), not a handshake after which it would speak
 * HTTP/2 to an HTTP/1.1 server; one that offers none is served as before. An HTTP/1.0 client
 * (`curl --http1.0`) offers `http/1.0` alone: it is served, as nginx serves it, on a listener
 * with `http2` too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { parseConfig } from '../../../src/core/config/load.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { type Gateway, startGateway } from '../../../src/server/gateway/gateway.ts';

interface Outcome {
  /** The protocol ALPN chose (false: none), or the handshake's error code. */
  readonly alpn: string | false;
  readonly statusLine?: string;
  readonly error?: string;
}

/** One GET over a TLS connection that offers `protocols` by ALPN (none when undefined). */
function get(port: number, protocols: string[] | undefined, version = '1.1'): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = tls.connect(
      {
        port,
        host: '127.0.0.1',
        servername: 'localhost',
        ca: testCertificates().ca,
        ...(protocols === undefined ? {} : { ALPNProtocols: protocols }),
      },
      () => socket.write(`GET /alpn HTTP/${version}\r\nHost: localhost\r\nConnection: close\r\n\r\n`),
    );
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      text += chunk;
    });
    socket.on('end', () =>
      resolve({ alpn: socket.alpnProtocol ?? false, statusLine: text.split('\r\n')[0] }),
    );
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ alpn: false, error: err.code }));
  });
}

describe('ALPN on a TLS listener without http2', () => {
  let app: Fault;
  let gateway: Gateway;
  let port: number;
  let h2Port: number;
  before(async () => {
    app = await startEcho();
    const certs = testCertificates();
    const yaml = `name: edge-1
listen:
  - address: 127.0.0.1:0
    tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }
  - address: 127.0.0.1:0
    http2: true
    tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`;
    gateway = await startGateway(parseConfig(yaml, '<test>', {}), {
      logger: createLoggerOn({ write: () => true }, 'silent', 'edge-1'),
    });
    port = gateway.listeners[0].port();
    h2Port = gateway.listeners[1].port();
  });
  after(async () => {
    await gateway.close();
    await app.close();
  });

  test('a client that offers h2 and http/1.1 is told http/1.1', async () => {
    assert.deepEqual(await get(port, ['h2', 'http/1.1']), {
      alpn: 'http/1.1',
      statusLine: 'HTTP/1.1 200 OK',
    });
  });

  test('a client that offers only h2 gets no_application_protocol, and nothing reaches the upstream', async () => {
    const before = app.received.length;
    assert.deepEqual(await get(port, ['h2']), {
      alpn: false,
      error: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL',
    });
    assert.equal(app.received.length, before);
  });

  test('a client that offers no ALPN is served HTTP/1.1', async () => {
    assert.deepEqual(await get(port, undefined), { alpn: false, statusLine: 'HTTP/1.1 200 OK' });
  });

  test('an HTTP/1.0 client that offers only http/1.0 is told http/1.0 and served, with http2 or without', async () => {
    const before = app.received.length;
    for (const listenerPort of [port, h2Port]) {
      assert.deepEqual(await get(listenerPort, ['http/1.0'], '1.0'), {
        alpn: 'http/1.0',
        statusLine: 'HTTP/1.1 200 OK',
      });
    }
    assert.equal(app.received.length, before + 2);
  });

  test('a client that offers http/1.1 and http/1.0 is told http/1.1; h2 still comes first where served', async () => {
    assert.equal((await get(port, ['http/1.0', 'http/1.1'])).alpn, 'http/1.1');
    assert.equal((await get(h2Port, ['http/1.0', 'h2'], '1.0')).alpn, 'h2');
  });
});
