/** An upstream socket's reads handed to its reader from one shared buffer: copies kept, a stream again for a tunnel. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import {
  connectDirectReads,
  kept,
  readsAsStream,
  takeAcceptedReads,
  takeReads,
} from '../../../src/core/net/direct-reads.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

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
  await waitUntil('the server accepted the connection', () => peers.length === sockets.length);
  return { socket, peer: peers[peers.length - 1] };
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
  await waitUntil('the first read came', () => kept.length === 1);
  b.peer.write('second!');
  await waitUntil('the second read came', () => kept.length === 2);
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
  await waitUntil("the peer's end was told", () => ended);
  assert.deepEqual(kept, ['held']);
});

test("handed to a stream's readers (a tunnel), its reads come as 'data', copies of their own", async () => {
  const { socket, peer } = await connected();
  takeReads(socket, () => {});
  readsAsStream(socket);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  peer.write('one');
  await waitUntil('the first read came', () => chunks.length === 1);
  peer.write('two');
  await waitUntil('the second read came', () => chunks.length === 2);
  assert.deepEqual(
    chunks.map((chunk) => chunk.toString()),
    ['one', 'two'],
  );
});

test("a socket a server accepted is taken too: its reads are views of the same buffer, its end told as before; taken once, TLS's never", async (t) => {
  const accepted: net.Socket[] = [];
  const listener = net.createServer({ allowHalfOpen: true }, (socket) => accepted.push(socket));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  t.after(() =>
    closeAll(...[client, ...accepted].map((socket) => ({ close: () => socket.destroy() })), listener),
  );
  await waitUntil('the server accepted the connection', () => accepted.length === 1);
  const socket = accepted[0];
  const views: Buffer[] = [];
  const kept: string[] = [];
  assert.equal(
    takeAcceptedReads(socket, (bytes) => {
      views.push(bytes);
      kept.push(Buffer.from(bytes).toString());
    }),
    true,
  );
  assert.equal(
    takeAcceptedReads(socket, () => {}),
    false,
    'a socket already taken is not taken again',
  );
  let ended = false;
  // (Flowing, as the server's connections read it: 'data' carries only what node put in its Readable.)
  socket.on('data', () => {});
  socket.on('end', () => {
    ended = true;
  });
  client.write('from the client');
  await waitUntil('the read came', () => kept.length === 1);
  const { socket: upstream, peer } = await connected();
  takeReads(upstream, (bytes) => views.push(bytes));
  peer.write('upstream');
  await waitUntil('the upstream read came', () => views.length === 2);
  assert.equal(views[0].buffer, views[1].buffer, 'one buffer for both sides');
  assert.deepEqual(kept, ['from the client']);
  client.end();
  await waitUntil("the client's end was told", () => ended);
  const tlsLike = Object.assign(new net.Socket(), { encrypted: true });
  assert.equal(
    takeAcceptedReads(tlsLike, () => {}),
    false,
    'a TLS socket is read through node:tls',
  );
  tlsLike.destroy();
});

test('what is kept of a read is a copy when the read is a view of the shared buffer, itself otherwise', async () => {
  const { socket, peer } = await connected();
  const views: Buffer[] = [];
  takeReads(socket, (bytes) => views.push(bytes));
  peer.write('shared');
  await waitUntil('the read came', () => views.length === 1);
  const copy = kept(views[0]);
  assert.notEqual(copy.buffer, views[0].buffer, 'a view of the shared buffer is copied');
  assert.equal(copy.toString(), 'shared');
  assert.equal(kept(copy), copy, 'a copy is kept as it is');
});

test('bytes that come before a reader took the socket close it: nobody asked for them', async () => {
  const { socket, peer } = await connected();
  peer.write('unasked');
  await waitUntil('the socket was closed', () => socket.destroyed);
});

test('through the gateway: answers whose reads come in one turn each reach their own client whole (a body is copied out of the shared buffer before its write waits for the turn to end)', async (t) => {
  const CALLS = 24;
  // The origin answers no request until all have come, then every one at once: the gateway's
  // upstream connections become readable together, their reads handed over in one turn, while
  // each answer's write waits for that turn's end.
  const waiting: { socket: net.Socket; path: string }[] = [];
  const origin = net.createServer((socket) => {
    let head = '';
    socket.on('data', (bytes) => {
      head += bytes.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      waiting.push({ socket, path: head.split(' ')[1] });
      head = '';
      if (waiting.length < CALLS) return;
      for (const { socket: s, path } of waiting.splice(0)) {
        const body = path.repeat(40);
        s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      }
    });
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const gw = await startTestGateway(
    singleUpstream(`http://127.0.0.1:${(origin.address() as net.AddressInfo).port}`),
  );
  t.after(() => closeAll(gw, origin));
  const paths = Array.from({ length: CALLS }, (_, i) => `/call-${String(i).padStart(2, '0')}`);
  const answers = await Promise.all(paths.map((path) => request(gw.url, { path })));
  for (const [i, res] of answers.entries()) {
    assert.equal(res.status, 200);
    assert.equal(res.text, paths[i].repeat(40), `the answer to ${paths[i]}`);
  }
});
