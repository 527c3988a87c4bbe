/**
 * `listen[].max_connections` where the cluster primary accepts for the workers (a port-0
 * listener, or a platform whose kernel does not balance SO_REUSEPORT sockets: macOS, Windows):
 * a connection past the bound is closed as it is accepted, as on a worker's own socket. node:net's
 * own bound, in a worker, hands such a connection back to the primary, which held it accepted
 * and unanswered until a slot freed: no bound at all on what clients could open.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startServe } from '../helpers/serve-process.ts';

test('a port-0 listener under candor serve: past max_connections a new connection is closed unread, and the drop logged', async () => {
  const upstream = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'candor-rr-connections-'));
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: rr
listen:
  - address: 127.0.0.1:0
    max_connections: 2
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(upstream.address() as AddressInfo).port}
`,
  );
  const serve = await startServe(path, 1);
  const sockets: net.Socket[] = [];
  const connect = async () => {
    const socket = net.connect(serve.port, '127.0.0.1');
    socket.on('error', () => {});
    sockets.push(socket);
    await once(socket, 'connect');
    return socket;
  };
  try {
    await connect();
    await connect();
    const third = net.connect(serve.port, '127.0.0.1');
    third.on('error', () => {});
    sockets.push(third);
    // A plain listener (not events.once, which rejects on the reset that may end it).
    const closed = new Promise((resolve) => third.on('close', resolve));
    let received = '';
    third.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    third.write('GET / HTTP/1.1\r\nHost: rr\r\n\r\n');
    // Closed by the gateway (a FIN or a reset), never answered: not held until a slot frees.
    await closed;
    assert.equal(received, '');
    await serve.waitForLines('connections dropped: the listener holds its max_connections', 1);
    const line = serve.lines.find(
      (l) => l.msg === 'connections dropped: the listener holds its max_connections',
    );
    assert.equal(line?.dropped, 1);
  } finally {
    for (const socket of sockets) socket.destroy();
    await serve.stop();
    await new Promise((resolve) => upstream.close(resolve));
  }
});
