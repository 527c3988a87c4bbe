/**
 * An upstream that resets its connection while a client's body still streams to it, the reset
 * met first by the gateway's next write of that body (ECONNRESET on the write, not on a read).
 * The socket reads on after such a write (an early answer may wait in the kernel's buffer:
 * early-answer-reset.test.ts), to its own end: a reset before the response head is a 502
 * connection_terminated, never the 504 of a head that did not come in time; one under the body is
 * a 200 cut short (http_response_incomplete, the reset named), never a body that stalled.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { parseProxyStatus } from '../../helpers/gateway-error.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

/** The upstream resets once the client's body is streaming: before its head (`head`) or after the head and a chunk (`body`). */
async function resetUnderUpload(t: { after(fn: () => Promise<void> | void): void }, when: 'head' | 'body') {
  let upstreamSocket: net.Socket | undefined;
  let headCame: () => void = () => {};
  const came = new Promise<void>((resolve) => {
    headCame = resolve;
  });
  const upstream = net.createServer((socket) => {
    upstreamSocket = socket;
    socket.on('error', () => {});
    let text = '';
    const read = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      socket.off('data', read);
      // (Read on and dropped: the body keeps streaming until the reset.)
      socket.resume();
      if (when === 'body') socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nbig\r\n');
      headCame();
    };
    socket.on('data', read);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    upstreamSocket?.destroy();
    upstream.close();
  });
  // The clocks bound the wrong outcome: without them the test would wait for their defaults.
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
    request_buffering: false
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}
    retries: { attempts: 1 }
    timeouts: { response: 1s, read: 1s }
`);
  t.after(() => gw.close());

  const client = net.connect(gw.port, '127.0.0.1');
  client.on('error', () => {});
  let received = '';
  client.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  const closed = new Promise<void>((resolve) => {
    const timer = setTimeout(() => client.destroy(), 5000);
    client.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  client.write(
    'POST /upload HTTP/1.1\r\nHost: a\r\nX-Request-Id: up\r\nAccept: application/json\r\nContent-Length: 1000000\r\n\r\n',
  );
  client.write(Buffer.alloc(1000, 'a'));
  await came;
  for (let i = 0; i < 250 && when === 'body' && !received.includes('big'); i++)
    await new Promise((resolve) => setTimeout(resolve, 20));
  // More of the body, then the reset, both before the gateway's next look at its sockets: it
  // reads the client's bytes first and writes them to the upstream, and that write meets the reset.
  client.write(Buffer.alloc(16 * 1024, 'b'));
  upstreamSocket?.resetAndDestroy();
  const until = Date.now() + 30;
  while (Date.now() < until) {}
  await closed;
  return { received, line: await gw.logFor('up') };
}

test('a reset before the response head, met by a write of the streaming body: 502 connection_terminated, not 504', async (t) => {
  const { received, line } = await resetUnderUpload(t, 'head');
  const head = received.slice(0, received.indexOf('\r\n\r\n'));
  assert.match(head, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
  const proxyStatus = /\r\nproxy-status: ([^\r]*)/i.exec(head)?.[1];
  const entry = parseProxyStatus(proxyStatus);
  assert.equal(entry.error, 'connection_terminated');
  assert.equal(entry.nextHop, 'app');
  assert.match(entry.details ?? '', /reset \(ECONNRESET\)/);
  assert.deepEqual(
    [line.status, line.error, line.shape, line.upstream_reset, line.attempts],
    [502, 'connection_terminated', 'reset', true, 1],
  );
});

test('a reset under the response body, met by a write of the streaming body: the 200 cut short, http_response_incomplete, not a stall', async (t) => {
  const { received, line } = await resetUnderUpload(t, 'body');
  assert.match(received, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(!received.endsWith('0\r\n\r\n'), 'the chunked body is never ended as if whole');
  assert.deepEqual(
    [line.status, line.error, line.shape, line.upstream_reset],
    [200, 'http_response_incomplete', 'reset', true],
  );
  assert.match(String(line.details), /reset \(ECONNRESET\)/);
});
