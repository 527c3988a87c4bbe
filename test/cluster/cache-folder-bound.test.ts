/**
 * The workers' shared cache folder (`cache.workers_share`, in /dev/shm: memory) stays near the
 * route's `max_size` while many misses at once are stored: each worker writes its answers there
 * one at a time, each after the scan its last writes asked for, so the folder is past `max_size`
 * by what the workers wrote since their last scans alone. Each write went on its own, its scan
 * after it: 32 clients storing 200 KB answers through two workers into `max_size: 1MiB` held
 * 6 to 32 MB there at once (3 runs of 3), the scans behind.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { serveCachedPages } from '../helpers/cached-pages.ts';
import { request } from '../helpers/http-client.ts';
import { workersCacheDir } from '../helpers/serve-process.ts';

/** The bytes of the folder's files (stored answers and writes under way), 0 when it cannot be read. */
function bytesIn(dir: string): number {
  let total = 0;
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) total += statSync(join(dir, name), { throwIfNoEntry: false })?.size ?? 0;
  return total;
}

test('many misses stored at once through both workers keep the shared folder near max_size', async (t) => {
  const body = Buffer.alloc(200_000, 'x');
  const origin = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  t.after(() => origin.close());
  const serve = await serveCachedPages(`http://127.0.0.1:${(origin.address() as AddressInfo).port}`, {
    cache: '{ max_size: 1MiB, max_entry: 256KiB }',
  });
  t.after(() => serve.stop());
  const folder = join(workersCacheDir(serve), 'pages');
  const base = `http://127.0.0.1:${serve.port}`;
  // The folder's size looked at all along (each look a moment: it can miss a peak, never make one).
  let most = 0;
  let storing = true;
  const looking = (async () => {
    while (storing) {
      most = Math.max(most, bytesIn(folder));
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  // 32 clients, 320 pages (each a miss, stored), each on a connection of its own.
  await Promise.all(
    Array.from({ length: 32 }, async (_, c) => {
      for (let i = c; i < 320; i += 32) {
        const res = await request(base, { path: `/pages/p${i}`, headers: { host: 'pages.test' } });
        assert.equal(res.status, 200);
      }
    }),
  );
  storing = false;
  await looking;
  // max_size, and at most what each of the two workers wrote since its last scan (a tenth of
  // max_size, and the answer that passed it) and is writing (one answer).
  const bound = 1024 * 1024 + 2 * (1024 * 1024 * 0.1 + 2 * body.length + 2048);
  assert.ok(most <= bound, `the folder held ${most} bytes at once, beyond ${bound}`);
});
