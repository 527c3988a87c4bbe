/**
 * A tunnel's buffers are bounded both ways: a side that stops reading stops the other side's
 * reads (each pauses the other), so a flood meets TCP's flow control, not the gateway's memory.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

const UPGRADE =
  'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
const CHUNK = Buffer.alloc(256 * 1024, 0x61);
/** Far past loopback's socket buffers both sides and the gateway's high-water marks together. */
const BOUND = 48 * 1024 * 1024;

/** Writes CHUNKs until the socket stops taking them (a write that does not drain in `quietMs`); resolves with the bytes it took. */
function flood(socket: net.Socket, quietMs: number): Promise<number> {
  return new Promise((resolve) => {
    let taken = 0;
    const more = () => {
      while (taken < BOUND * 2) {
        taken += CHUNK.length;
        if (!socket.write(CHUNK)) {
          const timer = setTimeout(() => resolve(taken), quietMs);
          socket.once('drain', () => {
            clearTimeout(timer);
            more();
          });
          return;
        }
      }
      resolve(taken);
    };
    more();
  });
}

test('an upstream flooding a client that does not read is held back by the gateway, and every byte arrives once the client reads', async () => {
  let taken = 0;
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    taken = await flood(c.socket, 500);
    c.socket.end();
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const socket = net.connect(gw.port, '127.0.0.1');
    socket.pause();
    socket.write(`${UPGRADE}X-Request-Id: flood\r\n\r\n`);
    while (taken === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(taken < BOUND, `the upstream could write ${taken} bytes to a client reading none`);
    let read = 0;
    let start = Buffer.alloc(0);
    await new Promise<void>((resolve) => {
      socket.on('data', (d: Buffer) => {
        read += d.length;
        if (start.length < 1024) start = Buffer.concat([start, d]);
      });
      socket.on('end', () => resolve());
      socket.resume();
    });
    const line = await gw.logFor('flood');
    assert.equal(line.bytes_out, taken);
    assert.equal(
      read,
      start.indexOf('\r\n\r\n') + 4 + taken,
      'the 101 head and every byte the upstream wrote',
    );
    socket.destroy();
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('a client flooding an upstream that does not read is held back by the gateway, and every byte arrives once the upstream reads', async () => {
  let received = 0;
  let startReading = () => {};
  let ended = () => {};
  const upstreamEnded = new Promise<void>((resolve) => {
    ended = resolve;
  });
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    c.socket.pause();
    c.socket.on('data', (d: Buffer) => {
      received += d.length;
    });
    c.socket.on('end', () => {
      c.socket.end();
      ended();
    });
    await c.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    startReading = () => c.socket.resume();
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const socket = net.connect(gw.port, '127.0.0.1');
    await new Promise((resolve) => {
      socket.once('data', resolve);
      socket.write(`${UPGRADE}X-Request-Id: flood-up\r\n\r\n`);
    });
    const taken = await flood(socket, 500);
    assert.ok(taken < BOUND, `the client could write ${taken} bytes to an upstream reading none`);
    socket.end();
    startReading();
    await upstreamEnded;
    const line = await gw.logFor('flood-up');
    assert.equal(received, taken);
    assert.equal(line.tunnel_closed_by, 'client');
    socket.destroy();
  } finally {
    await gw.close();
    await upstream.close();
  }
});
