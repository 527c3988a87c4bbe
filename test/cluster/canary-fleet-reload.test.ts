/**
 * `candor serve` with `store.redis` gets its canaries' fleet from the config in force, as a
 * library gateway does (issue 36): a reload that brings the first canary opens the fleet's Redis
 * client in the primary (it was opened only by a config that had a canary at start, and a
 * canary a reload brought was judged on this gateway's counts alone); a reload that takes the
 * last canary away closes it. Seen from Redis: the clients named `candor-canary-fleet`.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type CanaryOrigin, startCanaryOrigin } from '../helpers/canary-origin.ts';
import { untilFleetClients } from '../helpers/fleet-clients.ts';
import { closeAll } from '../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../helpers/redis-server.ts';
import { type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

let redis: RedisProcess;
let stable: CanaryOrigin;
let next: CanaryOrigin;
let serve: ServeProcess | undefined;
const path = join(tempDir('candor-canary-fleet-reload-'), 'candor.yaml');

function config(canary: boolean): string {
  return `name: fleet-reload
listen:
  - address: 127.0.0.1:0
store:
  redis: { url: "${redis.url}", timeout: 2s }
routes:
  - name: api
    match: { path: / }
    upstream: stable
${canary ? '    canary: { upstream: next, steps: [10, 30], step_interval: 1m }\n' : ''}upstreams:
  stable:
    targets:
      - url: ${stable.url}
  next:
    targets:
      - url: ${next.url}
`;
}

before(async () => {
  redis = await startRedis();
  stable = await startCanaryOrigin('stable');
  next = await startCanaryOrigin('next');
});

after(() => closeAll(serve, redis, stable, next));

test('a reload that brings the first canary opens the fleet in the primary; one that takes the last away closes it', async () => {
  writeFileSync(path, config(false));
  const gateway = await startServe(path, 1);
  serve = gateway;
  await untilFleetClients(redis, 0);
  writeFileSync(path, config(true));
  gateway.child.kill('SIGHUP');
  await gateway.waitForLines('config reloaded', 1, 15_000);
  await gateway.waitForLines('canary step', 1, 15_000);
  await untilFleetClients(redis, 1);
  // The canary's state is the fleet's: published to Redis by the primary that began it.
  const { Redis } = await import('ioredis');
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  try {
    const state = JSON.parse((await client.get('candor:canary:api:state')) ?? 'null') as Record<
      string,
      unknown
    >;
    assert.equal(state?.canary, 'next');
    assert.equal(state?.share, 10);
  } finally {
    client.disconnect();
  }
  writeFileSync(path, config(false));
  gateway.child.kill('SIGHUP');
  await gateway.waitForLines('config reloaded', 2, 15_000);
  await untilFleetClients(redis, 0);
});
