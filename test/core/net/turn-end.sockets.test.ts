/** Writes held for the end of the turn: run in order, after the turn's I/O, none lost. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { atTurnEnd, corkUntilTurnEnd } from '../../../src/core/net/turn-end.ts';

test('held work runs after the current callback and its microtasks, in the order it was held', async () => {
  const seen: string[] = [];
  atTurnEnd((x) => seen.push(x), 'a');
  atTurnEnd((x) => seen.push(x), 'b');
  queueMicrotask(() => seen.push('microtask'));
  seen.push('sync');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(seen, ['sync', 'microtask', 'a', 'b']);
});

test('work held while the held work runs is not lost: it runs at the next turn end', async () => {
  const seen: number[] = [];
  atTurnEnd(() => {
    seen.push(1);
    atTurnEnd(() => seen.push(2), undefined);
  }, undefined);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(seen, [1]);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(seen, [1, 2]);
});

test('a socket corked until the turn ends holds what was written during the turn, then sends it all', async () => {
  const received: Buffer[] = [];
  const server = net.createServer((socket) => socket.on('data', (chunk) => received.push(chunk)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  corkUntilTurnEnd(client);
  client.write('GET / HTTP/1.1\r\n');
  client.write('Host: a\r\n\r\n');
  assert.equal(client.writableLength, 27, 'both writes are held');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(client.writableLength, 0, 'and written at the end of the turn');
  for (let waits = 0; Buffer.concat(received).length < 27; waits++) {
    assert.ok(waits < 400, 'the server received everything');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(Buffer.concat(received).toString(), 'GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  client.destroy();
  server.close();
});
