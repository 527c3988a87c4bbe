/**
 * The keys a route's cache remembers beside its answers (its latest 16,384 invalidations, the
 * 4096 keys whose whole answer a Range did not keep) are a client's to choose, and each was held
 * whole, as long as its target: POSTs to long URLs (7 KB each, under the 8 KiB `uri_length`) held
 * some 50 MiB of a worker's heap beside a `max_size` of 8 MiB that counted none of it. A long key
 * is remembered by its digest, and still refuses what it refused.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { parseConfig } from '../../../src/core/config/load.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { AnswerCache } from '../../../src/proxy/cache/answer-cache.ts';
import { originOnly } from '../../../src/proxy/cache/freshness.ts';
import { policyOf, StoredAnswer } from '../../../src/proxy/cache/stored-answer.ts';
import { startGateway } from '../../../src/server/gateway/gateway.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const MIB = 1024 * 1024;
const PAD = 'q'.repeat(7000);

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

test('10,000 POSTs to 7 KB URLs on a cached route leave less than its 8 MiB max_size held', async () => {
  const origin = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'cache-control': 'max-age=600' });
    res.end('ok');
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  // Its log lines written nowhere: a test gateway's kept in memory would be most of what is measured.
  const gateway = await startGateway(
    parseConfig(
      `name: edge-1
listen: [{ address: 127.0.0.1:0 }]
routes:
  - name: api
    upstream: app
    cache: { max_size: 8MiB }
upstreams:
  app:
    targets: [{ url: http://127.0.0.1:${(origin.address() as AddressInfo).port} }]
`,
      '<test>',
      {},
    ),
    { logger: createLoggerOn({ write: () => true }, 'info', 'edge-1') },
  );
  const url = `http://127.0.0.1:${gateway.listeners[0].port()}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const post = (i: number) =>
    new Promise<number>((resolve, reject) => {
      http
        .request(`${url}/items?i=${i}&p=${PAD}`, { method: 'POST', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject)
        .end();
    });
  const drive = async (from: number, to: number) => {
    let next = from;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < to) assert.equal(await post(next++), 200);
      }),
    );
  };
  try {
    await drive(0, 200);
    const before = await settledMemory();
    // Each names two keys (http, https): the 16,384 remembered are full.
    await drive(200, 10_200);
    const held = (await settledMemory()) - before;
    assert.ok(held <= 8 * MIB, `${(held / MIB).toFixed(1)} MiB held after the POSTs`);
  } finally {
    agent.destroy();
    await gateway.close();
    origin.close();
  }
});

test('a long key invalidated still refuses an answer fetched before it, and a Range not kept is still remembered', () => {
  const config = {
    maxSize: 1_000_000,
    maxEntry: 100_000,
    lockTimeout: 5_000,
    workersShare: true,
    ...originOnly(60_000),
  };
  const cache = new AnswerCache(config, 'api');
  const key = `a.test /items?p=${PAD} http`;
  const answer = () =>
    new StoredAnswer(
      key,
      policyOf({ method: 'GET', url: `/items?p=${PAD}`, headers: { host: 'a.test' } }, 200, [
        'Cache-Control',
        'max-age=60',
      ]),
      200,
      'OK',
      Buffer.from('page'),
      config,
    );
  const fetchedAt = performance.now();
  cache.invalidate(key);
  assert.equal(cache.set(answer(), false, fetchedAt), false, 'fetched before the invalidation: not kept');
  assert.equal(cache.set(answer(), false, performance.now()), true, 'fetched after it: kept');
  assert.equal(cache.unkept.has(key), false);
  cache.unkept.note(key);
  assert.equal(cache.unkept.has(key), true);
  assert.equal(cache.unkept.has(`${key}x`), false);
});
