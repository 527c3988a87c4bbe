/**
 * The gateway's receive window on its HTTP/2 connection to an upstream. node:http2 leaves a
 * client's connection window at HTTP/2's initial 65,535 bytes (RFC 9113 §6.9.2), the size of one
 * stream's window, and shares it among every stream on the connection: all of a target's answers
 * together took at most 64 KiB a round trip, however many streams there were (two 2 MiB answers
 * at once through a link of 40 ms took 5 s, one alone 2.5 s, where HTTP/1.1 took 75 ms). node:http2
 * consumes the connection window as DATA arrives, whatever its streams' readers do, so its size
 * bounds no memory (each stream's own window does): the gateway opens it to what its streams'
 * windows hold together. Tested without a clock: an upstream that keeps to flow control strictly
 * sends two answers that fill two stream windows, and needs no WINDOW_UPDATE for them.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { request } from '../../../helpers/http-client.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';
import {
  FLAG,
  FRAME,
  frame,
  headerBlock,
  PREFACE,
  settings,
  settingsAck,
} from '../../../proxy/accept/h2/h2-frames.ts';

/** Bytes of each answer: within a stream's initial window, more than half the connection's. */
const BODY = 60_000;

/**
 * A raw h2c upstream that answers its first two request streams together, each with BODY bytes,
 * sending DATA only as far as the connection's flow-control window lets it (the gateway's
 * WINDOW_UPDATEs on stream 0 counted), and the rest once a WINDOW_UPDATE opens it.
 */
async function strictUpstream(): Promise<{ url: string; waited: () => number; close: () => Promise<void> }> {
  let waited = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    let prefaced = false;
    let window = 65_535;
    const streams: number[] = [];
    const left = new Map<number, number>();
    const send = () => {
      for (const [id, bytes] of left) {
        const n = Math.min(bytes, window, 16_384);
        if (n === 0) continue;
        window -= n;
        left.set(id, bytes - n);
        socket.write(frame(FRAME.DATA, bytes === n ? FLAG.END_STREAM : 0, id, Buffer.alloc(n, 97)));
        if (bytes === n) left.delete(id);
        return send();
      }
      if (left.size > 0) waited++;
    };
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (!prefaced) {
        if (pending.length < PREFACE.length) return;
        pending = pending.subarray(PREFACE.length);
        prefaced = true;
        socket.write(settings());
      }
      while (pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
        const length = pending.readUIntBE(0, 3);
        const [type, flags, stream] = [pending[3], pending[4], pending.readUInt32BE(5) & 0x7fffffff];
        const payload = pending.subarray(9, 9 + length);
        pending = pending.subarray(9 + length);
        if (type === FRAME.SETTINGS && (flags & FLAG.ACK) === 0) socket.write(settingsAck());
        if (type === FRAME.PING && (flags & FLAG.ACK) === 0)
          socket.write(frame(FRAME.PING, FLAG.ACK, 0, payload));
        if (type === FRAME.WINDOW_UPDATE && stream === 0) {
          window += payload.readUInt32BE(0) & 0x7fffffff;
          send();
        }
        if (type === FRAME.HEADERS && streams.push(stream) === 2)
          for (const id of streams) {
            socket.write(frame(FRAME.HEADERS, FLAG.END_HEADERS, id, headerBlock([[':status', '200']])));
            left.set(id, BODY);
            send();
          }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    waited: () => waited,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

test("two answers that fill their streams' windows go at once: the connection's window is not one stream's", async () => {
  const upstream = await strictUpstream();
  const gw = await startTestGateway(
    `name: edge-1\nroutes:\n  - { match: { path: / }, upstream: app }\nupstreams:\n  app:\n    protocol: h2c\n    targets: [{ url: "${upstream.url}" }]\n`,
  );
  try {
    const [a, b] = await Promise.all([request(gw.url, { path: '/a' }), request(gw.url, { path: '/b' })]);
    assert.deepEqual([a.status, a.text.length, b.status, b.text.length], [200, BODY, 200, BODY]);
    assert.equal(upstream.waited(), 0, 'the upstream waited for a WINDOW_UPDATE of the connection');
  } finally {
    await gw.close();
    await upstream.close();
  }
});
