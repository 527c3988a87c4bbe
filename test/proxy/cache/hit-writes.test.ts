/**
 * A stored answer leaves in one write to the client's socket, head and body together, as a small
 * proxied answer does (turn-end.ts): written apiece, a hit cost a write per part, which was most
 * of its cost (bench/cache-hit.ts). Counted on the gateway's own end of the connection (its local
 * port is the listener's), at the stream's _write/_writev, where one call is one write to the kernel.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

type WriteFn = (this: net.Socket, ...args: unknown[]) => unknown;

test('a cache hit goes to the client in one write', async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=60', 'Content-Type', 'text/plain'],
    body: 'stored page',
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /pages }
    upstream: app
    cache: {}
upstreams:
  app:
    targets:
      - url: ${origin.url}
`);
  t.after(() => gw.close());
  assert.equal((await request(gw.url, { path: '/pages/one' })).text, 'stored page');
  const proto = net.Socket.prototype as unknown as Record<'_write' | '_writev', WriteFn>;
  const original = { write: proto._write, writev: proto._writev };
  let writes = 0;
  const counted = (fn: WriteFn): WriteFn =>
    function (this: net.Socket, ...args) {
      if (this.localPort === gw.port) writes++;
      return fn.apply(this, args);
    };
  proto._write = counted(original.write);
  proto._writev = counted(original.writev);
  try {
    const hit = await request(gw.url, { path: '/pages/one' });
    assert.equal(hit.text, 'stored page');
    assert.match(String(hit.headers['cache-status']), /^edge-1; hit; /);
  } finally {
    proto._write = original.write;
    proto._writev = original.writev;
  }
  assert.equal(writes, 1, `the hit took ${writes} writes`);
  assert.equal(origin.heads.length, 1);
});
