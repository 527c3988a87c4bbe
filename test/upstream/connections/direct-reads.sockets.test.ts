/** An upstream socket's reads handed to its reader from one shared buffer: copies kept, a stream again for a tunnel. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import {
  connectDirectReads,
  readsAsStream,
  takeReads,
} from '../../../src/upstream/connections/direct-reads.ts';
import { closeAll } from '../../helpers/keep.ts';

/** A server that writes what each test asks of it, as it asks (`say`), and ends when told. */
const peers: net.Socket[] = [];
const server = net.createServer((socket) => peers.push(socket));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as net.AddressInfo).port;
const sockets: net.Socket[] = [];
after(() =>
  closeAll(
    [...sockets, ...peers].map((socket) => ({ close: () => socket.destroy() })),
    server,
  ),
);

async function connected(): Promise<{ socket: net.Socket; peer: net.Socket }> {
  const socket = connectDirectReads({ host: '127.0.0.1', port });
  sockets.push(socket);
  await new Promise((resolve) => socket.once('connect', resolve));
  for (let waits = 0; peers.length < sockets.length; waits++) {
    assert.ok(waits < 400, 'the server accepted the connection');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return { socket, peer: peers[peers.length - 1] };
}

async function until(done: () => boolean, what: string): Promise<void> {
  for (let waits = 0; !done(); waits++) {
    assert.ok(waits < 400, what);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('each read goes to the reader as a view the next read overwrites: what is kept is copied, and two sockets share none of it', async () => {
  const a = await connected();
  const b = await connected();
  const views: Buffer[] = [];
  const kept: string[] = [];
  const reader = (bytes: Buffer) => {
    views.push(bytes);
    kept.push(Buffer.from(bytes).toString());
  };
  assert.equal(takeReads(a.socket, reader), true);
  assert.equal(takeReads(b.socket, reader), true);
  a.peer.write('first');
  await until(() => kept.length === 1, 'the first read came');
  b.peer.write('second!');
  await until(() => kept.length === 2, 'the second read came');
  assert.deepEqual(kept, ['first', 'second!']);
  assert.equal(views[0].buffer, views[1].buffer, 'one buffer for both sockets');
  assert.equal(views[0].toString(), 'secon', 'the first view now shows the second read');
});

test("a 'data' socket is not taken: its reader reads it as before", async () => {
  const socket = net.connect({ host: '127.0.0.1', port });
  sockets.push(socket);
  await new Promise((resolve) => socket.once('connect', resolve));
  assert.equal(
    takeReads(socket, () => {}),
    false,
  );
});

test('paused, the socket reads nothing until resumed; its end is told as before', async () => {
  const { socket, peer } = await connected();
  const kept: string[] = [];
  takeReads(socket, (bytes) => {
    kept.push(Buffer.from(bytes).toString());
  });
  socket.pause();
  peer.write('held');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(kept, [], 'nothing read while paused');
  let ended = false;
  socket.on('end', () => {
    ended = true;
  });
  peer.end();
  socket.resume();
  await until(() => ended, "the peer's end was told");
  assert.deepEqual(kept, ['held']);
});

test("handed to a stream's readers (a tunnel), its reads come as 'data', copies of their own", async () => {
  const { socket, peer } = await connected();
  takeReads(socket, () => {});
  readsAsStream(socket);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  peer.write('one');
  await until(() => chunks.length === 1, 'the first read came');
  peer.write('two');
  await until(() => chunks.length === 2, 'the second read came');
  assert.deepEqual(
    chunks.map((chunk) => chunk.toString()),
    ['one', 'two'],
  );
});

test('bytes that come before a reader took the socket close it: nobody asked for them', async () => {
  const { socket, peer } = await connected();
  peer.write('unasked');
  await until(() => socket.destroyed, 'the socket was closed');
});
