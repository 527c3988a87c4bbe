/** An answer's writes gathered until the turn's end: one write then, in order; corked past the bound or behind its client. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import { TurnWrites } from '../../../../src/proxy/accept/http1/turn-writes.ts';
import { closeAll } from '../../../helpers/keep.ts';
import { waitUntil } from '../../../helpers/wait.ts';

const received: Buffer[] = [];
const server = net.createServer((socket) => socket.on('data', (chunk) => received.push(chunk)));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const sockets: net.Socket[] = [];
after(() =>
  closeAll(
    sockets.map((socket) => ({ close: () => socket.destroy() })),
    server,
  ),
);

async function connected(): Promise<net.Socket> {
  received.length = 0;
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  sockets.push(client);
  await new Promise((resolve) => client.once('connect', resolve));
  return client;
}

async function receivedAll(length: number): Promise<string> {
  await waitUntil('received whole', () => Buffer.concat(received).length >= length);
  return Buffer.concat(received).toString('latin1');
}

test('what is written while gathering stays out of the socket until the turn ends, then goes in order', async () => {
  const client = await connected();
  const writes = new TurnWrites(client);
  writes.untilTurnEnd();
  assert.equal(writes.gathering, true);
  assert.equal(writes.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n'), true);
  assert.equal(writes.write(Buffer.from('hello')), true);
  assert.equal(writes.write('\u00e9'), true, 'latin1 text');
  assert.equal(client.writableLength, 0);
  assert.equal(client.bytesWritten, 0, 'nothing reached the socket');
  assert.equal(writes.length, 44);
  assert.equal(writes.turnEnded(), true);
  assert.equal(writes.gathering, false);
  assert.equal(writes.length, 0);
  assert.equal(client.bytesWritten, 44);
  // Not gathering now: a write goes to the socket at once.
  writes.write('!');
  assert.equal(client.bytesWritten, 45);
  assert.equal(await receivedAll(45), 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello\u00e9!');
});

test('an answer past the bound is corked for the rest of the turn, what was gathered first', async () => {
  const client = await connected();
  const writes = new TurnWrites(client);
  writes.untilTurnEnd();
  writes.write('head\r\n\r\n');
  const body = Buffer.alloc(5000, 'b');
  writes.write(body);
  writes.write('tail');
  assert.equal(writes.gathering, false);
  assert.equal(client.writableCorked, 1);
  assert.equal(client.writableLength, 5012, 'all of it in the corked socket, in order');
  writes.turnEnded();
  assert.equal(client.writableCorked, 0);
  assert.equal(await receivedAll(5012), `head\r\n\r\n${'b'.repeat(5000)}tail`);
});

test('a socket still holding bytes for its client is corked, not gathered (a gathered write could not say what its write returns)', async () => {
  const client = await connected();
  client.cork();
  client.write('first ');
  const writes = new TurnWrites(client);
  writes.untilTurnEnd();
  assert.equal(writes.gathering, false);
  assert.equal(client.writableCorked, 2);
  writes.write('second');
  assert.equal(client.writableLength, 12);
  writes.turnEnded();
  assert.equal(client.writableCorked, 1, 'its own cork off, the other left');
  client.uncork();
  assert.equal(await receivedAll(12), 'first second');
});

test('what was gathered for a socket destroyed meanwhile is dropped', async () => {
  const client = await connected();
  const writes = new TurnWrites(client);
  writes.untilTurnEnd();
  writes.write('head');
  writes.write(Buffer.from('body'));
  client.destroy();
  assert.equal(writes.flush(), true);
  assert.equal(writes.length, 0);
  assert.equal(client.bytesWritten, 0);
});
