/**
 * A route's `max_size` bounds the memory its stored answers hold, small answers too: each is
 * counted for its body, its fields and what the store keeps beside them (the parsed policy, its
 * key, the entry itself). The bookkeeping was counted as 256 bytes where it takes some 1.3 to
 * 1.6 KiB, so a route whose answers are small (an API's JSON for many query strings) held about
 * three times its `max_size` (4 MiB: 6,600 answers of 2 bytes, 12 MiB of heap). Measured as what
 * a purge gives back, after full collections: nothing else of the gateway's moves with it.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { startTestGateway } from '../../helpers/test-gateway.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const MIB = 1024 * 1024;
const ANSWERS = 6000;

/** Heap and off-heap memory after full collections, once two readings in a row agree within 64 KiB. */
async function settledMemory(): Promise<number> {
  let last = -1;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    gc();
    gc();
    const { heapUsed, external } = process.memoryUsage();
    const now = heapUsed + external;
    if (Math.abs(now - last) < 64 * 1024) return now;
    last = now;
  }
}

test('6000 small answers under a 4 MiB max_size hold at most about 4 MiB: the bound counts what an entry costs', async () => {
  const origin = http.createServer((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'application/json' });
    res.end('{}');
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: api
    upstream: app
    cache: { max_size: 4MiB }
upstreams:
  app:
    targets: [{ url: http://127.0.0.1:${(origin.address() as AddressInfo).port} }]
`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const get = (path: string) =>
    new Promise<number>((resolve, reject) => {
      http
        .get(`${gw.url}${path}`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject);
    });
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < ANSWERS) assert.equal(await get(`/items?id=${next++}`), 200);
      }),
    );
    const cache = gw.gateway.status().routes.api.cache;
    assert.ok(cache !== null && cache !== undefined);
    assert.ok(cache.bytes <= 4 * MIB, `${cache.bytes} bytes counted`);
    const held = await settledMemory();
    assert.equal(await gw.gateway.purge({}), cache.entries);
    const freed = held - (await settledMemory());
    assert.ok(
      freed <= 4.4 * MIB,
      `${cache.entries} answers counted as ${cache.bytes} bytes held ${(freed / MIB).toFixed(1)} MiB`,
    );
  } finally {
    agent.destroy();
    await gw.close();
    origin.close();
  }
});
