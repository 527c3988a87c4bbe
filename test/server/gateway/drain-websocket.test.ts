/**
 * A WebSocket tunnel the drain's deadline cuts is told first: the client gets a Close frame
 * (1001, going away) after the frames it was relayed, the upstream a masked one after the
 * client's, then both connections close. A real `candor serve`, a raw WebSocket upstream and
 * client on loopback, a real SIGTERM.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { waitUntil } from '../../helpers/wait.ts';
import { startCandor } from './candor-process.ts';

/** A text frame (RFC 6455 §5.2), masked with `mask` when it is given (a client's). */
function textFrame(text: string, mask?: Buffer): Buffer {
  const payload = Buffer.from(text);
  if (mask === undefined) return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
  const masked = payload.map((byte, i) => byte ^ mask[i % 4]);
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

/** Every byte `socket` got so far, and once it closes (bounded: the drain's deadline closes it). */
function everything(socket: net.Socket): { sofar: () => Buffer; closed: Promise<Buffer> } {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  const sofar = () => Buffer.concat(chunks);
  return { sofar, closed: new Promise((resolve) => socket.once('close', () => resolve(sofar()))) };
}

/** What follows the head (the first blank line) in `bytes`. */
function afterHead(bytes: Buffer): Buffer {
  const end = bytes.indexOf('\r\n\r\n');
  assert.notEqual(end, -1, `a head in ${bytes.toString('latin1')}`);
  return bytes.subarray(end + 4);
}

test('SIGTERM: a WebSocket tunnel cut at drain.timeout gets a Close frame 1001 on both sides, after the frames relayed', async () => {
  let upstreamGot: ReturnType<typeof everything> | undefined;
  const upstream = net.createServer((socket) => {
    upstreamGot = everything(socket);
    socket.once('data', () => {
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
      );
      socket.write(textFrame('from the app'));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as net.AddressInfo;
  const candor = await startCandor(
    `routes:\n  - upstream: ws\nupstreams:\n  ws:\n    targets:\n      - url: http://127.0.0.1:${port}\ndrain: { timeout: 1s }\n`,
  );
  try {
    const client = net.connect(candor.port, '127.0.0.1');
    const clientGot = everything(client);
    client.write(
      'GET /chat HTTP/1.1\r\nHost: chat.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    const mask = Buffer.from([1, 2, 3, 4]);
    client.write(textFrame('from the browser', mask));
    // Both frames relayed before the signal: the tunnel is between frames both ways.
    const appFrame = textFrame('from the app');
    const browserFrame = textFrame('from the browser', mask);
    await waitUntil('the app frame relayed to the client', () => {
      const got = clientGot.sofar();
      const end = got.indexOf('\r\n\r\n');
      return end !== -1 && got.length - end - 4 === appFrame.length;
    });
    await waitUntil('the browser frame relayed to the app', () => {
      const got = upstreamGot?.sofar() ?? Buffer.alloc(0);
      const end = got.indexOf('\r\n\r\n');
      return end !== -1 && got.length - end - 4 === browserFrame.length;
    });
    candor.primary.kill('SIGTERM');
    const toClient = afterHead(await clientGot.closed);
    assert.deepEqual(
      [...toClient],
      [...appFrame, 0x88, 0x02, 0x03, 0xe9],
      'the app frame, then a Close frame saying 1001',
    );
    const toUpstream = afterHead(await (upstreamGot as ReturnType<typeof everything>).closed);
    assert.deepEqual([...toUpstream.subarray(0, browserFrame.length)], [...browserFrame]);
    const close = toUpstream.subarray(browserFrame.length);
    assert.equal(close.length, 8, 'a masked Close frame with a 2-byte code');
    assert.deepEqual([close[0], close[1]], [0x88, 0x82]);
    const code = ((close[6] ^ close[2]) << 8) | (close[7] ^ close[3]);
    assert.equal(code, 1001);
    assert.equal((await candor.exited).code, 0, candor.stderr());
    const line = candor.lines().find((l) => l.status === 101);
    assert.equal(line?.tunnel_closed_by, 'drain', JSON.stringify(candor.lines()));
  } finally {
    await candor.cleanup();
    upstream.close();
  }
});
