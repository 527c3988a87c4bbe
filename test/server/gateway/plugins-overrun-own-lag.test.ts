/**
 * A plugin's hook timeout against the gateway's own lag: an async `onRequest` waits for a
 * service that answers at once, but the worker's loop is held meanwhile (here by the service
 * itself, as another request's hook that computes would) with the answer unread in the socket.
 * Timers run before I/O, so the hook's deadline passed first: a 500 saying the plugin overran, for
 * a wait that was the gateway's own. The deadline looks again after the poll, where the answer is
 * read and the hook settles. The loop is held for real (Atomics.wait on this process, the
 * gateway's); no timing is asserted.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test("an onRequest whose service answered in time, unread while the loop is held past the plugin's timeout: not overran", async () => {
  const app = await startEcho();
  // The service answers each line at once, then holds the loop 800 ms (past the 300 ms timeout).
  const service = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.on('data', () => {
      socket.write('ok\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 800);
    });
  });
  await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
  const { port } = service.address() as net.AddressInfo;
  const asking: Plugin = () => ({
    async onRequest(req) {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.write('ask\n'));
        socket.on('error', reject);
        socket.once('data', (chunk) => {
          socket.destroy();
          resolve(chunk.toString().trim());
        });
      });
      req.headers.set('x-service', answer);
    },
  });
  const gw = await startTestGateway(
    `name: edge-1
plugins:
  asking: { module: /nonexistent/asking.ts, timeout: 300ms }
routes:
  - { match: { path: / }, upstream: app, plugins: [asking] }
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`,
    {},
    '',
    { plugins: { asking } },
  );
  try {
    const res = await request(gw.url, { path: '/x', headers: { 'x-request-id': 'asked' } });
    // Was: 500, proxy_internal_error, plugin:asking overran its 300 ms in onRequest.
    assert.equal(res.status, 200);
    assert.equal(res.headers['proxy-status'], undefined);
    const line = await gw.logFor('asked');
    assert.equal(line.status, 200);
    assert.equal(line.error, undefined);
  } finally {
    await gw.close();
    await app.close();
    await new Promise<void>((resolve) => service.close(() => resolve()));
  }
});
