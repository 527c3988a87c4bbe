/**
 * An HTTP/1.1 upstream that takes the request head and never reads the body: its socket's
 * buffers fill and the body waits in the gateway. The 504 says so, not only that no head came.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

test('an HTTP/1.1 upstream that stops reading the body: 504 http_response_timeout saying the request waited for it to take it', async () => {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    // Reads nothing: the kernel's buffers fill, then the gateway's.
    socket.pause();
    sockets.add(socket);
  });
  const port = await listenLoopback(server);
  keep({
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  });
  const gw = await keep(
    startTestGateway(`name: edge-1
routes:
  - upstream: app
    request_buffering: false
    limits: { body: 64MiB }
upstreams:
  app:
    targets: [{ url: http://127.0.0.1:${port} }]
    timeouts: { response: 300ms, total: 1s }
    retries: { attempts: 1 }
`),
  );
  const res = await request(gw.url, {
    method: 'POST',
    path: '/up',
    body: Buffer.alloc(32 * 1024 * 1024, 98),
  });
  assert.equal(res.status, 504);
  assert.match(
    String(res.headers['proxy-status']),
    /^edge-1; error=http_response_timeout; details="no response head within the total timeout of 1000 ms; \d+ bytes of the request were still waiting for the upstream to take them \(it stopped reading: its connection took no more\)"; next-hop="app"$/,
  );
});
