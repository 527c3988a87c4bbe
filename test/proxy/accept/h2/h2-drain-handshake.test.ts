/**
 * A drain that finds a connection still in its TLS handshake on a listener with `http2`: the
 * client came before the gateway stopped accepting, and its request is served as on a listener
 * without it (http1-server.ts serves it once, saying close): over HTTP/1.1 its answer says
 * `Connection: close`, over HTTP/2 the session is told GOAWAY, so the client knows its stream was
 * not taken and may send it elsewhere (RFC 9113 §8.7). It was destroyed once its handshake was
 * done: the client of either protocol saw a connection closed without a word.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { testCertificates } from '../../../../src/kits/fault-kit/tls-certs.ts';
import { closeAll } from '../../../helpers/keep.ts';
import { startGatewayFromText, type TestGateway } from '../../../helpers/test-gateway.ts';
import { waitUntil } from '../../../helpers/wait.ts';

const certs = testCertificates();
let upstream: http.Server;
let upstreamPort = 0;

before(async () => {
  upstream = http.createServer((req, res) => res.end(`ok ${req.url}`));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamPort = (upstream.address() as net.AddressInfo).port;
});

after(() => closeAll(upstream));

/** A gateway on TLS with `http2`, a TCP connection it has accepted, then its drain begun before the client's ClientHello. */
async function drainingWithHandshakePending(): Promise<{
  gw: TestGateway;
  tcp: net.Socket;
  drained: Promise<void>;
}> {
  const gw = await startGatewayFromText(`listen:
  - address: 127.0.0.1:0
    tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }
    http2: true
name: edge-1
drain: { delay: 0s, timeout: 5s }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${upstreamPort}
`);
  const accepted = new Promise<void>((resolve) =>
    gw.gateway.listeners[0].server.once('connection', () => resolve()),
  );
  const tcp = net.connect(gw.port, '127.0.0.1');
  tcp.on('error', () => {});
  await accepted;
  const drained = gw.gateway.drain();
  await waitUntil('stopped accepting', () => gw.logs.some((l) => l.msg === 'draining: stopped accepting'));
  return { gw, tcp, drained };
}

test('HTTP/1.1 by ALPN: the request after the handshake is answered, saying close', async () => {
  const { gw, tcp, drained } = await drainingWithHandshakePending();
  const socket = tls.connect({
    socket: tcp,
    servername: 'localhost',
    ca: certs.ca,
    ALPNProtocols: ['http/1.1'],
  });
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString();
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write('GET /late HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await closed;
  await drained;
  assert.match(received, /^HTTP\/1\.1 200 OK\r\n[\s\S]*connection: close\r\n[\s\S]*ok \/late$/);
  assert.equal((await gw.accessLine()).status, 200);
});

test('HTTP/2 by ALPN: the session is told GOAWAY, not closed without a word', async () => {
  const { tcp, drained } = await drainingWithHandshakePending();
  const socket = tls.connect({ socket: tcp, servername: 'localhost', ca: certs.ca, ALPNProtocols: ['h2'] });
  socket.on('error', () => {});
  const session = http2.connect('https://localhost', { createConnection: () => socket });
  session.on('error', () => {});
  let goaway: number | undefined;
  session.on('goaway', (code: number) => {
    goaway = code;
  });
  const answer = new Promise<string>((resolve) => {
    const stream = session.request({ ':path': '/late' });
    let body = '';
    stream.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    stream.on('end', () => resolve(`answered: ${body}`));
    stream.on('error', () => resolve(`reset: ${stream.rstCode}`));
    stream.end();
  });
  const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
  const outcome = await answer;
  await closed;
  await drained;
  assert.equal(goaway, http2.constants.NGHTTP2_NO_ERROR, `a GOAWAY came (the stream: ${outcome})`);
  // Served, or refused as never processed: either way the client knows where its request stands.
  assert.ok(
    outcome === 'answered: ok /late' || outcome === `reset: ${http2.constants.NGHTTP2_REFUSED_STREAM}`,
    outcome,
  );
});
