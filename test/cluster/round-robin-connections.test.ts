/**
 * `listen[].max_connections` where the cluster primary accepts for the workers (a port-0
 * listener, or a platform whose kernel does not balance SO_REUSEPORT sockets: macOS): a
 * connection past the bound is closed as it is accepted, as on a worker's own socket. node:net's
 * own bound, in a worker, hands such a connection back to the primary, which held it accepted
 * and unanswered until a slot freed: no bound at all on what clients could open.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { closeAll } from '../helpers/keep.ts';
import { type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const DROPPED = 'connections dropped: the listener holds its max_connections';
let upstream: http.Server;
let path: string;

before(async () => {
  upstream = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  path = join(tempDir('candor-rr-connections-'), 'candor.yaml');
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
});

after(() => closeAll(upstream));

/** A connection to `serve`, once the primary accepted it (whatever a worker then does with it). */
async function connect(serve: ServeProcess, sockets: net.Socket[]): Promise<net.Socket> {
  const socket = net.connect(serve.port, '127.0.0.1');
  socket.on('error', () => {});
  sockets.push(socket);
  // Not events.once, which rejects on the reset that may end it.
  await new Promise((resolve) => socket.once('connect', resolve).once('close', resolve));
  return socket;
}

test('a port-0 listener under candor serve: past max_connections a new connection is closed unread, and the drop logged', async () => {
  const serve = await startServe(path, 1);
  const sockets: net.Socket[] = [];
  try {
    await connect(serve, sockets);
    await connect(serve, sockets);
    const third = await connect(serve, sockets);
    const closed = new Promise((resolve) =>
      third.destroyed ? resolve(undefined) : third.on('close', resolve),
    );
    let received = '';
    third.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    if (!third.destroyed) third.write('GET / HTTP/1.1\r\nHost: rr\r\n\r\n');
    // Closed by the gateway (a FIN or a reset), never answered: not held until a slot frees.
    await closed;
    assert.equal(received, '');
    await serve.waitForLines(DROPPED, 1);
    assert.equal(serve.lines.find((l) => l.msg === DROPPED)?.dropped, 1);
  } finally {
    for (const socket of sockets) socket.destroy();
    await serve.stop();
  }
});

test("max_connections 2 with 2 workers: the dropped line names the file's 2 and the worker's share of 1", async () => {
  const serve = await startServe(path, 2);
  const sockets: net.Socket[] = [];
  try {
    // Four connections over two workers of one each: whichever way they land, some are dropped.
    for (let i = 0; i < 4; i++) await connect(serve, sockets);
    await serve.waitForLines(DROPPED, 1);
    const line = serve.lines.find((l) => l.msg === DROPPED);
    assert.equal(line?.max_connections, 2);
    assert.equal(line?.worker_share, 1);
  } finally {
    for (const socket of sockets) socket.destroy();
    await serve.stop();
  }
});
