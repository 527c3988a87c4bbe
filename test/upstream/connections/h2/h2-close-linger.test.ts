/**
 * An HTTP/2 connection to an upstream the gateway closes (idle past `pool.idle_timeout`) gets
 * GOAWAY and the gateway's FIN; node:http2 then waits for the upstream's FIN with no deadline of
 * its own. An upstream that never closes its side (here a raw one, half-open on purpose) must not
 * keep the gateway's socket: LINGER_MS after the FIN it is destroyed. Read with `ss`: the
 * gateway's end in FIN-WAIT-2 still held by this process, then not.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { LINGER_MS } from '../../../../src/core/net/linger.ts';
import { request } from '../../../helpers/http-client.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';
import {
  FLAG,
  FRAME,
  headerBlock,
  headers,
  PREFACE,
  settings,
  settingsAck,
} from '../../../proxy/accept/h2/h2-frames.ts';

const IDLE_MS = 300;

/** The gateway's ends of connections to `port` waiting in FIN-WAIT-2 that this process still holds. */
function heldFinWait2(port: number): number {
  const out = execFileSync('ss', ['-tnpH', 'state', 'fin-wait-2', `dport = :${port}`]).toString();
  return out.split('\n').filter((line) => line.includes(`pid=${process.pid},`)).length;
}

test('an h2c upstream that never closes its side does not keep the socket the gateway closed', async (t) => {
  const sockets = new Set<net.Socket>();
  // An HTTP/2 server of a few frames: its SETTINGS, its ACK of the gateway's, a 200 to stream 1;
  // it never ends its side of the connection, whatever the gateway sends.
  const upstream = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.write(settings());
    let pending = Buffer.alloc(0);
    let prefaced = false;
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (!prefaced) {
        if (pending.length < PREFACE.length) return;
        pending = pending.subarray(PREFACE.length);
        prefaced = true;
      }
      while (pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
        const [type, flags, stream] = [pending[3], pending[4], pending.readUInt32BE(5) & 0x7fffffff];
        if (type === FRAME.SETTINGS && (flags & FLAG.ACK) === 0) socket.write(settingsAck());
        if (type === FRAME.HEADERS && stream === 1)
          socket.write(
            headers(
              1,
              headerBlock([
                [':status', '200'],
                ['content-length', '0'],
              ]),
            ),
          );
        pending = pending.subarray(9 + pending.readUIntBE(0, 3));
      }
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as net.AddressInfo).port;
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    upstream.close();
  });
  const gw = await startTestGateway(`routes:
  - upstream: app
upstreams:
  app:
    protocol: h2c
    targets: [{ url: http://127.0.0.1:${port} }]
    pool: { idle_timeout: ${IDLE_MS}ms }
`);
  t.after(() => gw.close());
  assert.equal((await request(gw.url, { path: '/' })).status, 200);

  // The session closes at its idle timeout: the gateway's FIN goes out, the upstream never answers it.
  const closedBy = performance.now() + IDLE_MS + 5_000;
  while (heldFinWait2(port) === 0 && performance.now() < closedBy)
    await new Promise((r) => setTimeout(r, 50));
  assert.equal(heldFinWait2(port), 1, 'the gateway waits on the upstream after its FIN');
  const deadline = performance.now() + LINGER_MS + 1_000;
  while (heldFinWait2(port) > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(heldFinWait2(port), 0, 'the gateway let its socket go LINGER_MS after its FIN');
  assert.equal(sockets.size, 1, 'while the upstream still holds its side');
});
