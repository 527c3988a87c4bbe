/**
 * Keep-alive connections during `drain.delay`: a client holds its connection and sends its next
 * request on it whatever the load balancer now says (a Kubernetes Service moves only new
 * connections off an endpoint that is not ready), so the delay alone moved none of them. From
 * the moment the drain begins, each HTTP/1.1 answer says `Connection: close` and its connection
 * closes after it: the client's next request opens a new connection, which the balancer sends
 * elsewhere, instead of finding its idle connection closed under it when the gateway stops
 * accepting (a request written into that close is lost, and a POST is not sent again).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

/** Sends one request on `socket` and reads its answer (Content-Length framed); `closed`: the gateway ended the connection after it. */
function ask(socket: net.Socket, path: string): Promise<{ head: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    let received = '';
    const onData = (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const at = received.indexOf('\r\n\r\n');
      if (at < 0) return;
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(received)?.[1] ?? 0);
      if (received.length < at + 4 + length) return;
      socket.off('data', onData);
      const head = received.slice(0, at);
      if (!/\r\nconnection: close/i.test(head)) return resolve({ head, closed: false });
      socket.once('end', () => resolve({ head, closed: true }));
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`);
  });
}

test('during drain.delay a kept-alive HTTP/1.1 connection is answered, saying close, and closed after it; a new one too', async (t) => {
  const upstream = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    upstream.closeAllConnections();
    upstream.close();
  });
  const { port } = upstream.address() as net.AddressInfo;
  const gw = await startTestGateway(
    singleUpstream(`http://127.0.0.1:${port}`, { extra: 'drain: { delay: 2s, timeout: 5s }' }),
  );
  const kept = net.connect(gw.port, '127.0.0.1');
  t.after(() => kept.destroy());
  const before = await ask(kept, '/before');
  assert.match(before.head, /^HTTP\/1\.1 200 /);
  assert.match(before.head, /\r\nconnection: keep-alive/i);

  const drained = gw.gateway.drain();
  const during = await ask(kept, '/during');
  assert.match(during.head, /^HTTP\/1\.1 200 /);
  assert.match(during.head, /\r\nconnection: close/i, 'the next answer says close');
  assert.equal(during.closed, true, 'and the connection ends after it');
  assert.equal(
    gw.logs.some((l) => l.msg === 'draining: stopped accepting'),
    false,
    'still in the delay: nothing was closed by the stop',
  );

  // A connection the balancer still sends during the delay: served, once.
  const late = net.connect(gw.port, '127.0.0.1');
  t.after(() => late.destroy());
  const fresh = await ask(late, '/new');
  assert.match(fresh.head, /^HTTP\/1\.1 200 /);
  assert.match(fresh.head, /\r\nconnection: close/i);
  assert.equal(fresh.closed, true);
  await drained;
  assert.deepEqual(
    gw.logs.filter((l) => l.msg === 'request').map((l) => [l.path, l.status]),
    [
      ['/before', 200],
      ['/during', 200],
      ['/new', 200],
    ],
  );
});

test('an answer whose head left before the drain began does not close its connection during drain.delay: the next request is answered, saying close', async (t) => {
  // The head went out saying keep-alive: its client will send its next request on this connection
  // as soon as the body ends. Closed after that answer, the next request meets the close (a
  // reset, a request lost, which the client cannot tell from one the gateway ran); kept open, it
  // is answered and told to close, as every answer of the delay is.
  let finish: () => void = () => {};
  const upstream = http.createServer((req, res) => {
    if (req.url !== '/stream') return res.end('ok');
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first ');
    finish = () => res.end('last');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    upstream.closeAllConnections();
    upstream.close();
  });
  const { port } = upstream.address() as net.AddressInfo;
  const gw = await startTestGateway(
    singleUpstream(`http://127.0.0.1:${port}`, { extra: 'drain: { delay: 2s, timeout: 5s }' }),
  );
  const kept = net.connect(gw.port, '127.0.0.1');
  t.after(() => kept.destroy());
  let received = '';
  let ended = false;
  kept.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  kept.on('end', () => {
    ended = true;
  });
  kept.on('error', () => {});
  const until = async (what: string, done: () => boolean) => {
    for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(done(), `${what}; received: ${JSON.stringify(received)}`);
  };
  kept.write('GET /stream HTTP/1.1\r\nHost: a\r\n\r\n');
  await until('the head and the first bytes came', () => received.includes('first '));
  assert.match(received, /\r\nconnection: keep-alive/i, 'the head left saying keep-alive');

  const drained = gw.gateway.drain();
  await until('the drain began', () => gw.logs.some((l) => l.msg === 'draining: not ready'));
  finish();
  await until('the streamed answer ended', () => received.endsWith('0\r\n\r\n'));
  // What a keep-alive client does next: it sends its next request on the same connection.
  await new Promise((r) => setImmediate(r));
  received = '';
  if (!ended) kept.write('GET /next HTTP/1.1\r\nHost: a\r\n\r\n');
  await until(
    'the next request was answered or the connection ended',
    () => ended || received.includes('\r\n\r\nok'),
  );
  assert.equal(
    ended && !received.includes('HTTP/1.1'),
    false,
    'the connection was closed under the next request',
  );
  assert.match(received, /^HTTP\/1\.1 200 /);
  assert.match(received, /\r\nconnection: close/i, 'the next answer says close');
  await until('the connection ended after it', () => ended);
  await drained;
  assert.deepEqual(
    gw.logs.filter((l) => l.msg === 'request').map((l) => [l.path, l.status]),
    [
      ['/stream', 200],
      ['/next', 200],
    ],
  );
});
