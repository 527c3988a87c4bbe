/**
 * A client that sends its first WebSocket frame in the same write as its upgrade request (before
 * the 101, as RFC 6455 §4.1 does not allow but clients do): the bytes read past the head are the
 * tunnel's, sent upstream after the 101 came, never before it and never lost.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

const UPGRADE =
  'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
/** A masked text frame "hi" (RFC 6455 §5.7's shape). */
const FRAME = Buffer.from([0x81, 0x82, 1, 2, 3, 4, 'h'.charCodeAt(0) ^ 1, 'i'.charCodeAt(0) ^ 2]);

test('a frame sent with the upgrade request reaches the upstream after its 101, whole', async () => {
  let beforeSwitch = Buffer.alloc(0);
  let afterSwitch = Buffer.alloc(0);
  let switched = false;
  const upstream = await startRawFault(async (c) => {
    c.socket.on('data', (d: Buffer) => {
      if (switched) afterSwitch = Buffer.concat([afterSwitch, d]);
      else beforeSwitch = Buffer.concat([beforeSwitch, d]);
      if (switched && afterSwitch.length >= FRAME.length) c.socket.end('done');
    });
    await c.nextRequest();
    // A moment for anything the gateway sent too soon to arrive before the switch.
    await new Promise((resolve) => setTimeout(resolve, 100));
    switched = true;
    await c.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const got = await new Promise<string>((resolve) => {
      const socket = net.connect(gw.port, '127.0.0.1');
      let raw = '';
      socket.on('data', (d: Buffer) => {
        raw += d.toString('latin1');
      });
      socket.on('end', () => {
        socket.end();
        resolve(raw);
      });
      socket.on('error', () => resolve(raw));
      socket.write(Buffer.concat([Buffer.from(`${UPGRADE}X-Request-Id: early\r\n\r\n`), FRAME]));
    });
    assert.match(got, /^HTTP\/1\.1 101 /);
    assert.ok(got.endsWith('\r\n\r\ndone'), got);
    assert.equal(beforeSwitch.includes(FRAME), false, 'no frame bytes before the 101');
    assert.deepEqual(afterSwitch, FRAME);
    const line = await gw.logFor('early');
    assert.equal(line.tunnel_closed_by, 'upstream');
  } finally {
    await gw.close();
    await upstream.close();
  }
});
