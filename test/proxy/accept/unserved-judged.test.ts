/**
 * A reload that changes a TLS listener's client certificates closes each busy connection judged
 * under the old ones after its answer (judged-connections.ts): requests its client pipelined
 * behind that answer were read and are never served. Each still gets its one log line
 * (DESIGN.md), status 0, saying why; nothing of it reaches an upstream.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import tls from 'node:tls';
import { parseConfig } from '../../../src/core/config/load.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { makeClientCa } from '../../helpers/client-ca.ts';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const server = testCertificates();

const request = (path: string, id: string) =>
  `GET ${path} HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: ${id}\r\n\r\n`;

test('a reload changing client_certificates: requests pipelined behind the answer it closes after get a line each', async (t) => {
  const clients = makeClientCa();
  t.after(() => clients.remove());
  let answer: (() => void) | undefined;
  const upstream = await scriptedUpstream((socket) => {
    answer = () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow');
  });
  t.after(() => upstream.close());
  const config = (mode: string) => `listen:
  - address: 127.0.0.1:0
    tls:
      cert: ${server.localhost.certPath}
      key: ${server.localhost.keyPath}
      client_certificates: { ca: ${clients.ca}, crl: ${clients.crl}, mode: ${mode} }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`;
  const gw = await startGatewayFromText(config('optional'));
  t.after(() => gw.close());

  const socket = tls.connect({
    host: '127.0.0.1',
    port: gw.port,
    servername: 'localhost',
    ca: server.ca,
    ALPNProtocols: ['http/1.1'],
    ...clients.issue('dave'),
  });
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await new Promise((resolve) => socket.once('secureConnect', resolve));
  socket.write(request('/a', 'a') + request('/b', 'b'));
  await waitUntil('the first request reached the upstream', () => answer !== undefined);
  await gw.gateway.reload(parseConfig(config('require'), '<test>', {}));
  (answer as () => void)();
  await closed;

  assert.match(received, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\nconnection: close\r\n\r\nslow$/);
  assert.equal((await gw.logFor('a')).status, 200);
  const line = await gw.logFor('b');
  assert.deepEqual(
    [line.path, line.status, line.error, line.stage, line.attempts, line.client_aborted, line.details],
    [
      '/b',
      0,
      'proxy_internal_response',
      'not_sent',
      0,
      false,
      "a reload changed the listener's client_certificates: the gateway closed the connection, judged under the old ones, after answering the request pipelined before this one, and this one was never sent",
    ],
  );
  assert.deepEqual(
    upstream.requests.map((r) => r.head.split(' ')[1]),
    ['/a'],
  );
});
