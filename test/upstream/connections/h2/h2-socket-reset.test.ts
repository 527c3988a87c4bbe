/**
 * An HTTP/2 upstream whose TCP connection is reset (a crash, a kill) is told as an HTTP/1.1 one
 * is: "connection reset (ECONNRESET)", `upstream_reset` true. Node closes the streams of the
 * session it lost with INTERNAL_ERROR, its own code: no RST_STREAM came, and saying "stream
 * reset by the upstream (INTERNAL_ERROR)" named a frame the upstream never sent.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { test } from 'node:test';
import type { Fault } from '../../../../src/kits/fault-kit/fault.ts';
import { startResetBeforeHead, startResetMidBody } from '../../../../src/kits/fault-kit/reset-faults.ts';
import { request } from '../../../helpers/http-client.ts';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';

const keep = closeAfterAll();

/** An h2c server that resets the TCP connection (RST) of every stream's session, before its head or after a part of its body. */
async function startH2SocketReset(
  when: 'before-head' | 'mid-body',
): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const h2 = http2.createServer();
  h2.on('stream', (stream) => {
    const reset = () => {
      for (const socket of sockets) socket.resetAndDestroy();
    };
    if (when === 'before-head') return reset();
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'content-length': '1000' });
    stream.write('x'.repeat(100), () => setTimeout(reset, 20));
  });
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    h2.emit('connection', socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** One GET through a gateway to `url` spoken in `protocol`: the answer and its log line, the time in details blanked. */
async function through(protocol: 'http1' | 'h2c', url: string, id: string) {
  const gw = await keep(
    startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    protocol: ${protocol}
    targets: [{ url: "${url}" }]
    retries: { attempts: 1 }
    timeouts: { connect: 500ms, response: 2s, read: 2s, total: 5s }
`),
  );
  const res = await request(gw.url, { path: '/x', headers: { 'x-request-id': id } });
  const line = await gw.logFor(id);
  const blank = (text: unknown) => String(text).replace(/after [\d.]+ ms/, 'after N ms');
  return {
    status: res.status,
    proxyStatus: res.headers['proxy-status'] === undefined ? undefined : blank(res.headers['proxy-status']),
    error: line.error,
    details: blank(line.details),
    upstreamReset: line.upstream_reset,
  };
}

test('a TCP reset before the head: 502 connection_terminated "connection reset (ECONNRESET)", as from an HTTP/1.1 upstream', async () => {
  const h1: Fault = await keep(startResetBeforeHead());
  const h2 = await keep(startH2SocketReset('before-head'));
  const fromH1 = await through('http1', h1.url, 'rst-h1');
  const fromH2 = await through('h2c', h2.url, 'rst-h2');
  assert.deepEqual(fromH2, {
    status: 502,
    proxyStatus:
      'edge-1; error=connection_terminated; details="connection reset (ECONNRESET) before the response head after N ms"; next-hop="app"',
    error: 'connection_terminated',
    details: 'connection reset (ECONNRESET) before the response head after N ms',
    upstreamReset: true,
  });
  assert.deepEqual(fromH2, fromH1);
});

test('a TCP reset mid-body: the transfer is cut, logged http_response_incomplete "connection reset (ECONNRESET)", as from an HTTP/1.1 upstream', async () => {
  const h1: Fault = await keep(startResetMidBody());
  const h2 = await keep(startH2SocketReset('mid-body'));
  const fromH1 = await through('http1', h1.url, 'cut-h1');
  const fromH2 = await through('h2c', h2.url, 'cut-h2');
  assert.deepEqual(fromH2, {
    status: 200,
    proxyStatus: undefined,
    error: 'http_response_incomplete',
    details: 'response body cut short: connection reset (ECONNRESET) after N ms',
    upstreamReset: true,
  });
  assert.deepEqual(fromH2, fromH1);
});
