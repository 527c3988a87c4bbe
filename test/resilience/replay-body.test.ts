/**
 * `retries.replay_body`: a request that reached a target that then failed is retried (when its
 * method allows it) only with a body the gateway can send again, read whole before the first
 * attempt. A body announced up to `replay_body` is read whole for that, even on a route that
 * streams bodies (`request_buffering: false`); one the route reads whole anyway can be sent again
 * whatever its size; any other streams, what of it went kept up to `replay_body`: retried when no
 * more than that went, not once more had (`retry_skipped: body_not_replayable`). The next target
 * gets the body whole.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Fault } from '../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { startRawFault } from '../../src/kits/fault-kit/raw-server.ts';
import { startResetBeforeHead } from '../../src/kits/fault-kit/reset-faults.ts';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';

let echo: Fault;
let resetting: Fault;

before(async () => {
  echo = await startEcho();
  resetting = await startResetBeforeHead();
});

after(() => closeAll(echo, resetting));

/** A PUT of `size` bytes through a pool whose first target takes the body and resets: its status, and the log line. */
async function put(size: number, route: string, retries: string, chunked = false) {
  const gw = await startTestGateway(`name: edge-1
routes: [{ upstream: app${route} }]
upstreams:
  app:
    balancer: round_robin
    targets: [{ url: "${resetting.url}" }, { url: "${echo.url}" }]
    retries: { attempts: 2${retries} }
`);
  try {
    const headers: Record<string, string> = { 'content-type': 'text/plain', 'x-request-id': `put-${size}` };
    if (chunked) headers['transfer-encoding'] = 'chunked';
    const res = await request(gw.url, { path: '/p', method: 'PUT', body: 'a'.repeat(size), headers });
    return { res, line: await gw.logFor(`put-${size}`) };
  } finally {
    await gw.close();
  }
}

test('announced within replay_body on a streaming route: read whole, and sent whole again to the next target', async () => {
  const before = echo.received.length;
  const { res, line } = await put(1024, ', request_buffering: false', ', replay_body: 2KiB');
  assert.equal(res.status, 200);
  assert.equal(line.attempts, 2);
  const seen = echo.received.slice(before);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].bodyLength, 1024);
  assert.equal(seen[0].body.toString(), 'a'.repeat(1024));
});

test('past replay_body on a streaming route, announced or chunked: streamed, not retried once it reached the upstream', async () => {
  for (const [size, chunked] of [
    [4096, false],
    [4096, true],
  ] as const) {
    const before = echo.received.length;
    const { res, line } = await put(size, ', request_buffering: false', ', replay_body: 2KiB', chunked);
    assert.equal(res.status, 502);
    assert.match(String(res.headers['proxy-status']), /^edge-1; error=connection_terminated;/);
    assert.equal(line.attempts, 1);
    assert.equal(line.retry_skipped, 'body_not_replayable');
    assert.equal(echo.received.length, before, 'the next target got nothing');
  }
});

test('chunked within replay_body on a streaming route: streamed, what went kept, and sent whole again to the next target', async () => {
  const before = echo.received.length;
  const { res, line } = await put(1024, ', request_buffering: false', ', replay_body: 2KiB', true);
  assert.equal(res.status, 200);
  assert.equal(line.attempts, 2);
  const seen = echo.received.slice(before);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].body.toString(), 'a'.repeat(1024));
});

test('a body the route reads whole anyway (request_buffering) is sent again whatever replay_body says', async () => {
  const before = echo.received.length;
  const { res, line } = await put(4096, '', ', replay_body: 1KiB');
  assert.equal(res.status, 200);
  assert.equal(line.attempts, 2);
  assert.equal(echo.received.slice(before)[0]?.bodyLength, 4096);
});

/** Reads `upTo` bytes of the upload (head included), then resets: an upload cut in its middle. */
function startResetMidUpload(upTo: number) {
  return startRawFault(
    async (connection) => {
      let taken = 0;
      while (taken < upTo) {
        const chunk = connection.read(upTo - taken);
        if (chunk === null) await new Promise((resolve) => connection.socket.once('readable', resolve));
        else taken += chunk.length;
      }
      await connection.reset(0);
    },
    { manualRead: true },
  );
}

test('an upload cut by a reset mid-body: a streamed body is never sent again, a buffered one goes whole to the next target', async () => {
  const size = 8 * 1024 * 1024; // more than loopback's socket buffers hold: the gateway is still writing
  const upload = Buffer.alloc(size, 'u');
  // A route that streams, one that reads whole bodies but not one past its buffer, one that
  // reads it whole, announced or chunked.
  for (const [buffering, buffer, chunked, retried] of [
    [false, '16MiB', false, false],
    [true, '1MiB', false, false],
    [true, '16MiB', false, true],
    [true, '16MiB', true, true],
  ] as const) {
    const cutting = await startResetMidUpload(64 * 1024);
    const healthy = await startEcho();
    const gw = await startTestGateway(`name: edge-1
routes: [{ upstream: app, request_buffering: ${buffering}, limits: { buffer: ${buffer} } }]
upstreams:
  app:
    balancer: round_robin
    targets: [{ url: "${cutting.url}" }, { url: "${healthy.url}" }]
    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 2, replay_body: 64KiB }
`);
    try {
      const id = `upload-${buffering}-${buffer}-${chunked}`;
      const framing = chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(size) };
      const res = await request(gw.url, {
        method: 'PUT',
        path: '/big',
        body: upload,
        headers: { 'x-request-id': id, ...framing },
      });
      assert.equal(cutting.received.length, 1);
      assert.ok(cutting.received[0].bodyLength < size, `${id}: the first target got part of it`);
      const line = await gw.logFor(id);
      if (retried) {
        assert.equal(res.status, 200, id);
        assert.equal(healthy.received.length, 1);
        assert.equal(healthy.received[0].bodyLength, size, 'the next target got it whole');
        assert.ok(healthy.received[0].body.equals(upload));
        assert.equal(line.attempts, 2);
      } else {
        assert.equal(res.status, 502, id);
        assert.match(String(res.headers['proxy-status']), /^edge-1; error=connection_terminated; /);
        assert.equal(healthy.received.length, 0, 'nothing reached the next target');
        assert.deepEqual([line.attempts, line.retry_skipped], [1, 'body_not_replayable']);
      }
    } finally {
      await gw.close();
      await closeAll(cutting, healthy);
    }
  }
});
