/**
 * `listen[].max_connections` bounds the file descriptors clients can hold on a listener: idle
 * keep-alive connections and tunnels count like busy ones; past the bound a new connection is
 * closed as it is accepted, unread, and the drops are logged (coalesced) and counted.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** Connects, sends `bytes`, and collects what comes back until `until` matches or the peer closes. */
function open(port: number, bytes: string, until: RegExp) {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  let closed = false;
  socket.on('data', (c: Buffer) => {
    received += c.toString('latin1');
  });
  socket.on('close', () => {
    closed = true;
  });
  socket.on('error', () => {});
  socket.write(bytes);
  return {
    socket,
    received: () => received,
    closed: () => closed,
    answered: () => waitUntil(`an answer matching ${until}`, () => until.test(received)),
  };
}

test('past max_connections a new connection is closed unread; a tunnel and an idle keep-alive connection count; one closing makes room', async () => {
  let requests = 0;
  const upstream = http.createServer((_req, res) => {
    requests++;
    res.end('ok');
  });
  upstream.on('upgrade', (_req, socket: net.Socket) => {
    requests++;
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    socket.on('data', (c) => socket.write(c));
    // An upgraded server socket is half-open by default: end when the gateway ends.
    socket.on('end', () => socket.end());
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as net.AddressInfo;
  const edge = await startTestGateway(singleUpstream(`http://127.0.0.1:${port}`), {}, 'max_connections: 2');
  let idle: ReturnType<typeof open> | undefined;
  try {
    const tunnel = open(
      edge.port,
      'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
      /^HTTP\/1\.1 101 /,
    );
    await tunnel.answered();
    idle = open(edge.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', /\r\n\r\nok$/);
    await idle.answered();
    assert.equal(requests, 2);

    const third = open(edge.port, 'GET /third HTTP/1.1\r\nHost: a\r\n\r\n', /HTTP/);
    await waitUntil('the third connection closed', third.closed);
    assert.equal(third.received(), '', 'closed unread, nothing answered');
    assert.equal(requests, 2, 'nothing of it reached the upstream');
    assert.equal(tunnel.closed() || idle.closed(), false, 'the two held connections live on');

    const warn = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const until = performance.now() + 5000;
      const look = () => {
        const line = edge.logs.find(
          (l) => l.msg === 'connections dropped: the listener holds its max_connections',
        );
        if (line) return resolve(line);
        if (performance.now() > until) return reject(new Error(JSON.stringify(edge.logs)));
        setTimeout(look, 50);
      };
      look();
    });
    assert.equal(warn.level, 'warn');
    assert.equal(warn.dropped, 1);
    assert.equal(warn.max_connections, 2);
    assert.equal(warn.listener, '127.0.0.1:0');
    const exposition = await edge.gateway.metrics.registry.metrics();
    assert.match(exposition, /candor_client_connections_dropped_total\{listener="127\.0\.0\.1:0"\} 1\n/);

    // The tunnel ends (both ways): room for one more.
    tunnel.socket.end();
    let answered = '';
    for (let i = 0; i < 40 && answered === ''; i++) {
      const next = open(edge.port, 'GET /fourth HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', /ok$/);
      await waitUntil('answered or closed', () => next.closed());
      answered = next.received();
      if (answered === '') await new Promise((r) => setTimeout(r, 25));
    }
    assert.match(answered, /^HTTP\/1\.1 200 /);
  } finally {
    idle?.socket.destroy();
    await edge.close();
    upstream.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  }
});
