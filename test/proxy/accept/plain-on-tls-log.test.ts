/**
 * A plain HTTP request sent to a TLS listener is answered 400 in plain text (server-tls.test.ts
 * holds the answer) and logged as any refused request: one access line naming the client (the
 * PROXY header's, behind a balancer), the 400 and its details, nothing forwarded. Its bytes_in
 * is the client's request as it came, as a parsed request's is: it counted the balancer's PROXY
 * header too (read off the socket, where a parsed request is counted by its parser). Real sockets.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const DETAILS = 'a plain HTTP request sent to a TLS (HTTPS) listener: send it with https://';

/** One route to the echo upstream at `url`. */
const configTo = (url: string) => `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: ${url} }]
`;

/** Writes `bytes` on a TCP connection to `port` and resolves with all it read once the gateway closed it. */
function plainExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

for (const [name, listener, prefix, client] of [
  ['a client reaching it directly', '', '', '127.0.0.1'],
  [
    'a client behind a PROXY-protocol balancer',
    '\n    proxy_protocol: { from: [127.0.0.1] }',
    'PROXY TCP4 203.0.113.9 127.0.0.1 5555 443\r\n',
    '203.0.113.9',
  ],
] as const)
  test(`plain HTTP on the TLS port, ${name}: one access line with the 400, its details and the client`, async (t) => {
    const app = await startEcho();
    const { certPath, keyPath } = testCertificates().localhost;
    const gw = await startTestGateway(
      configTo(app.url),
      {},
      `tls: { cert: ${certPath}, key: ${keyPath} }${listener}`,
    );
    t.after(async () => {
      await gw.close();
      await app.close();
    });
    const request = 'POST /orders HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5\r\n\r\nhello';
    const answer = await plainExchange(gw.port, `${prefix}${request}`);
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
    const line = await gw.accessLine(1);
    assert.deepEqual(
      [line.status, line.error, line.stage, line.details, line.client, line.attempts],
      [400, 'http_request_error', 'not_sent', DETAILS, client, 0],
    );
    // What the request said of itself went into OpenSSL: the line names none of it.
    assert.deepEqual([line.method, line.path], ['', '']);
    assert.equal(line.bytes_in, Buffer.byteLength(request), 'the PROXY header is no byte of the request');
    assert.equal(gw.logs.filter((l) => l.msg === 'request').length, 1);
    assert.equal(app.received.length, 0, 'nothing reached the upstream');
  });

test('a TLS handshake on a plain port: a 400 whose line names it, not the bytes a parser made of it', async (t) => {
  const app = await startEcho();
  const gw = await startTestGateway(configTo(app.url));
  t.after(async () => {
    await gw.close();
    await app.close();
  });
  // An https:// client at the plain listener: its TLS library reads the 400 as no TLS at all.
  const failed = await new Promise<NodeJS.ErrnoException>((resolve) => {
    const socket = tls.connect({ port: gw.port, host: '127.0.0.1', servername: 'shop.example' });
    socket.on('error', resolve);
    socket.on('secureConnect', () => resolve(new Error('handshake done') as NodeJS.ErrnoException));
  });
  assert.match(String(failed.code ?? failed.message), /WRONG_VERSION_NUMBER|ECONNRESET|wrong version/i);
  const line = await gw.accessLine(1);
  assert.deepEqual(
    [line.status, line.error, line.details, line.method, line.path, line.attempts],
    [
      400,
      'http_request_error',
      'a TLS handshake sent to a plain HTTP listener: send it with http://, or to a listener with tls',
      '',
      '',
      0,
    ],
  );
  assert.equal(app.received.length, 0, 'nothing reached the upstream');
});
