/**
 * The waits the access line names for a request handed a connection another request began
 * opening: `connect_ms` is the part of that connect this request waited through, never the
 * connection's whole connect (longer than the request itself), and `queued_ms` what it waited
 * before the connect began (none here). A real TLS upstream whose handshake takes 800 ms; the
 * pool may open one connection; the first request's client leaves while it opens.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startHttpsEcho } from '../../../src/kits/fault-kit/tls-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

test("a request handed a connection another began opening logs the part of the connect it waited, not the connection's whole connect", async (t) => {
  const upstream = await startHttpsEcho({ handshakeDelayMs: 800 });
  const gw = await startTestGateway(
    singleUpstream(`https://localhost:${upstream.port}`, {
      upstream: `    tls: { ca: ${upstream.caPath} }\n    pool: { max_connections: 1, queue_timeout: 5s }\n`,
    }),
  );
  t.after(async () => {
    await gw.close();
    await upstream.close();
  });
  // The first request starts the pool's one connection, and its client leaves while it opens.
  const first = http.get(`${gw.url}/first`, { agent: false, headers: { 'x-request-id': 'first' } });
  first.on('error', () => {});
  await sleep(150);
  first.destroy();
  await sleep(150);
  // The second arrives mid-connect, queued behind the connection being opened, and is handed it.
  const res = await request(gw.url, { path: '/second', headers: { 'x-request-id': 'second' } });
  assert.equal(res.status, 200);
  assert.equal(upstream.connections, 1, 'one connection, opened for the first and carrying the second');
  const line = await gw.logFor('second');
  assert.equal(line.reused, false);
  const connect = line.connect_ms as number;
  const total = line.total_ms as number;
  assert.equal(typeof connect, 'number');
  assert.ok(connect <= total, `connect_ms ${connect} within the request's own ${total} ms`);
  assert.equal(line.queued_ms ?? 0, 0, 'it waited on the connect, not behind busy connections');
});
