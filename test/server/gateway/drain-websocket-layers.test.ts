/**
 * Which tunnels the drain's deadline tells with WebSocket Close frames: those whose 101 switched
 * to WebSocket as its lowest layer, the protocol the connection's bytes are in (RFC 9110 §7.8: a
 * 101 lists its protocols in layer-ascending order), with or without a version. A 101 to
 * `foo/2, websocket` carries WebSocket inside foo/2: a raw Close frame would be foo/2 garbage.
 * An in-process gateway's close(), a raw upstream and client on loopback.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

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

const CLOSE_1001 = [0x88, 0x02, 0x03, 0xe9];

for (const [offer, switched, told] of [
  ['websocket, foo/2', 'websocket, foo/2', true],
  ['websocket', 'WebSocket/13', true],
  ['foo/2, websocket', 'foo/2, websocket', false],
] as const) {
  test(`a drain cut of a tunnel switched to "${switched}" ${told ? 'sends' : 'sends no'} WebSocket Close frames`, async () => {
    let upstreamGot: ReturnType<typeof everything> | undefined;
    const upstream = net.createServer((socket) => {
      upstreamGot = everything(socket);
      socket.once('data', () =>
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${switched}\r\nConnection: Upgrade\r\n\r\n`,
        ),
      );
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const { port } = upstream.address() as net.AddressInfo;
    const gw = await startTestGateway(
      `routes:\n  - upstream: ws\nupstreams:\n  ws:\n    targets:\n      - url: http://127.0.0.1:${port}\ndrain: { timeout: 1s }\n`,
    );
    const client = net.connect(gw.port, '127.0.0.1');
    try {
      const clientGot = everything(client);
      client.write(
        `GET /chat HTTP/1.1\r\nHost: chat.test\r\nUpgrade: ${offer}\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      await waitUntil('the 101 relayed', () => clientGot.sofar().includes('\r\n\r\n'));
      assert.match(clientGot.sofar().toString('latin1'), /^HTTP\/1\.1 101 /);
      await gw.close();
      const toClient = afterHead(await clientGot.closed);
      assert.deepEqual([...toClient], told ? CLOSE_1001 : []);
      const toUpstream = afterHead(await (upstreamGot as ReturnType<typeof everything>).closed);
      if (told) {
        assert.equal(toUpstream.length, 8, 'a masked Close frame with a 2-byte code');
        assert.deepEqual([toUpstream[0], toUpstream[1]], [0x88, 0x82]);
        assert.equal(((toUpstream[6] ^ toUpstream[2]) << 8) | (toUpstream[7] ^ toUpstream[3]), 1001);
      } else assert.equal(toUpstream.length, 0);
      const line = gw.logs.find((l) => l.msg === 'request');
      assert.equal(line?.status, 101);
      assert.equal(line?.tunnel_closed_by, 'drain');
    } finally {
      client.destroy();
      upstream.close();
    }
  });
}
