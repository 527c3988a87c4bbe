/**
 * The copies of answers on their way into a route's cache are bounded together, by its
 * `max_size`: many misses at once of slow answers (each under `max_entry`) held `max_entry` each,
 * without a bound (40 of 900 KiB: 35 MiB held for a cache of 4 MiB). A copy that finds no room is
 * dropped (the client still gets every byte), and a copy cut short gives its room back. Real
 * sockets: a node:http origin that sends most of each body, then stalls.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { settledArrayBuffers } from '../../helpers/settled-memory.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const KIB = 1024;
const MIB = 1024 * KIB;
const PART = 900 * KIB;
const CLIENTS = 40;

test("40 misses of slow 900 KiB answers at once hold at most the cache's max_size in copies; cut short, they give their room back", async () => {
  const stalled: http.ServerResponse[] = [];
  const origin = http.createServer((req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(PART + 1) });
    if (req.url === '/pages/fresh') return res.end(Buffer.alloc(PART + 1, 98));
    res.write(Buffer.alloc(PART, 97));
    stalled.push(res);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: { max_size: 4MiB }
upstreams:
  app:
    timeouts: { response: 60s, read: 60s, total: 120s }
    # 40 bodies the origin cuts short are 40 failures in a row: they would open the circuit (a
    # body cut after a good head counts), and the next answer would be its 503, not the room.
    circuit_breaker: { consecutive_failures: 0 }
    targets:
      - url: http://127.0.0.1:${(origin.address() as AddressInfo).port}
`);
  const clients: http.ClientRequest[] = [];
  try {
    const before = await settledArrayBuffers();
    let read = 0;
    for (let i = 0; i < CLIENTS; i++) {
      const client = http.get(`${gw.url}/pages/${i}`, (res) => {
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
        });
        res.on('error', () => {});
      });
      client.on('error', () => {});
      clients.push(client);
    }
    // Every client has read what the origin sent of its answer: only the copies are left in the gateway.
    await waitUntil('every part read', () => read === CLIENTS * PART, 15_000);
    const held = (await settledArrayBuffers()) - before;
    assert.ok(
      held < 4 * MIB + 4 * MIB,
      `${(held / MIB).toFixed(1)} MiB held for ${CLIENTS} answers on their way into a cache of 4 MiB`,
    );

    // Cut short: the copies are dropped, and their room is the next answer's.
    for (const res of stalled) res.destroy();
    for (const client of clients) client.destroy();
    const fresh = await request(gw.url, { path: '/pages/fresh' });
    assert.equal(fresh.status, 200);
    assert.equal(fresh.body.length, PART + 1);
    const hit = await request(gw.url, { path: '/pages/fresh' });
    assert.match(String(hit.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
    assert.equal(hit.body.length, PART + 1);
  } finally {
    for (const client of clients) client.destroy();
    await gw.close();
    origin.closeAllConnections();
    await new Promise<void>((resolve) => origin.close(() => resolve()));
  }
});
