/**
 * `--workers 2`: each worker balances the requests it took on its own (its own turn of the round
 * robin, its own requests in flight for least_conn), and the hash ring is the same in every
 * worker (and every gateway: its points depend only on the targets' URLs and weights). So the
 * total stays the policy's: a target's count is its share within one request a worker (each
 * worker's turn is exact over what it took, however the connections were spread), and a key
 * lands on one target whichever worker takes it. docs/limits.md, "Limits across workers".
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { request } from '../helpers/http-client.ts';
import { closeAfterAll } from '../helpers/keep.ts';
import { startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const keep = closeAfterAll();
const WORKERS = 2;

for (const balancer of ['round_robin', 'hash'] as const)
  test(`${balancer} with --workers ${WORKERS}: the total is the policy's, whichever worker took each request`, async () => {
    const echoes = await Promise.all([keep(startEcho()), keep(startEcho()), keep(startEcho())]);
    const path = join(tempDir('candor-balance-workers-'), 'candor.yaml');
    writeFileSync(
      path,
      `name: edge-1
listen:
  - address: 127.0.0.1:0
routes:
  - upstream: app
upstreams:
  app:
    targets: [${echoes.map((e) => `{ url: "${e.url}" }`).join(', ')}]
    balancer: ${balancer}
${balancer === 'hash' ? '    hash_key: header:x-user\n' : ''}`,
    );
    const serve = await startServe(path, WORKERS);
    try {
      const url = `http://127.0.0.1:${serve.port}`;
      if (balancer === 'round_robin') {
        // Each on a connection of its own, which the primary hands to either worker.
        for (let i = 0; i < 60; i++) assert.equal((await request(url, { path: `/${i}` })).status, 200);
        for (const e of echoes)
          assert.ok(
            Math.abs(e.received.length - 20) < WORKERS,
            `${echoes.map((x) => x.received.length).join('/')} of 60: each worker's turn is exact`,
          );
        return;
      }
      for (let round = 0; round < 4; round++)
        for (let k = 0; k < 15; k++)
          assert.equal(
            (await request(url, { path: `/u${k}`, headers: { 'x-user': `user-${k}` } })).status,
            200,
          );
      for (let k = 0; k < 15; k++) {
        const at = echoes.filter((e) => e.received.some((r) => r.path === `/u${k}`));
        assert.equal(at.length, 1, `user-${k} went to ${at.length} targets`);
      }
    } finally {
      await serve.stop();
    }
  });
