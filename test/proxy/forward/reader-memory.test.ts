/**
 * `limits.buffer_total`: what slow readers hold in memory, every connection of the worker
 * together. Each may hold up to its route's `limits.buffer`; past the total, a response whose
 * client falls behind holds no more: its rest goes through the spool file (or, with no spool,
 * its upstream waits for the client). Before, only `max_connections` bounded the sum.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const MiB = 1024 * 1024;
const BIG = Buffer.alloc(32 * MiB, 'r');

/** A client that asks for /big and reads nothing. */
function nonReader(port: number, id: string): net.Socket {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.pause();
  socket.write(`GET /big HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`);
  return socket;
}

test('slow readers together hold no more than limits.buffer_total: past it, the rest of each response goes through the spool', async (t) => {
  const finished: boolean[] = [];
  const upstream = await listenOnLoopback((_req, res) => {
    res.on('finish', () => finished.push(true));
    res.writeHead(200, { 'content-length': BIG.length });
    res.end(BIG);
  });
  t.after(() => upstream.close());
  // Each reader's route would hold its whole 32 MiB (limits.buffer 64 MiB): the total is 1 MiB.
  const gw = await startTestGateway(`name: edge-1
limits: { buffer_total: 1MiB, send_timeout: 4s }
routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 64MiB }
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`);
  t.after(() => gw.close());
  const readers = [nonReader(gw.port, 'one'), nonReader(gw.port, 'two')];
  t.after(() => {
    for (const reader of readers) reader.destroy();
  });
  // Both answers were taken whole from the upstream, and what waits in memory for the two
  // clients is the total's worth, not 64 MiB: past it by one upstream read each at most.
  // A bound against a hang, not a timing: 64 MiB through the gateway took over 10 s once under
  // the whole suite's load on two cores (1.1 s alone). send_timeout is 4 s, not 1: under that
  // load the spool's writes fell behind for over a second, the clients were cut before the
  // answers were whole, and with them the upstream's answers (the wait then never ended).
  await waitUntil('the upstream sent both answers', () => finished.length === 2, 30_000);
  const held = /\ncandor_reader_held_bytes (\d+)\n/.exec((await gw.gateway.metrics.exposition()).text);
  assert.ok(held !== null);
  assert.ok(Number(held[1]) > 0 && Number(held[1]) <= MiB + 2 * 256 * 1024, `${held[1]} bytes held`);
  // Neither reads: send_timeout cuts both; what they were not given went through files, the
  // upstream's answers were taken whole all the same.
  for (const id of ['one', 'two']) {
    const line = await gw.logFor(id);
    assert.equal(line.error, 'http_request_error', id);
    assert.ok(Number(line.spooled) > 16 * MiB, `${id} spooled ${line.spooled}: its rest was held in memory`);
  }
  await waitUntil(
    'the held bytes are given back',
    () => gw.gateway.runtime().readerMemory.buffered === 0,
    5000,
  );
  const after = (await gw.gateway.metrics.exposition()).text;
  assert.match(after, /\ncandor_reader_held_bytes 0\n/, 'given back once the clients are gone');
});
