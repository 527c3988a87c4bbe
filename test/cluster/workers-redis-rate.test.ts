/**
 * `candor serve --workers 2` with `store.redis`: each worker asks Redis on a connection of its
 * own, and the count is the gateway's: a burst of 3 lets 3 requests through across both workers,
 * exactly (one atomic script per decision), not 3 per worker. The 429s carry the whole seconds
 * to the next token as Redis counts them.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Fault } from '../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { type ClientResponse, request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../helpers/redis-server.ts';
import { type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { freePort } from '../helpers/wait.ts';

const dir = tempDir('candor-workers-redis-');
let echo: Fault;
let redis: RedisProcess;
let serve: ServeProcess;

before(async () => {
  echo = await startEcho();
  redis = await startRedis();
  const path = join(dir, 'candor.yaml');
  // A fixed port: each worker accepts on a socket of its own, the kernel spreading connections.
  writeFileSync(
    path,
    `name: pair
listen:
  - address: 127.0.0.1:${await freePort()}
# A loaded test machine can hold a call past the 50 ms default: the test is about sharing.
store:
  redis: { url: "${redis.url}", on_error: allow, timeout: 2s }
routes:
  - name: limited
    upstream: app
    rate_limit: { rate: 0.01, burst: 3 }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`,
  );
  serve = await startServe(path, 2);
  await serve.waitForLines('rate limit store connected: limits shared', 2);
});

after(async () => {
  await closeAll(serve, redis, echo);
  rmSync(dir, { recursive: true, force: true });
});

test('two workers, one Redis bucket: burst 3 lets exactly 3 of 16 through, whichever worker; 429s say 100 s', async () => {
  const answers: ClientResponse[] = [];
  // Fresh connections, one after another, spread over the two workers by the kernel.
  for (let i = 0; i < 16; i++)
    answers.push(
      await request(`http://127.0.0.1:${serve.port}`, {
        headers: { accept: 'application/json' },
        timeoutMs: 5_000,
      }),
    );
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 200, ...Array(13).fill(429)],
  );
  // Both workers asked: each has its own connection, and each last ran the script on it.
  const admin = new Redis(redis.url);
  try {
    const others = String(await admin.client('LIST'))
      .trim()
      .split('\n')
      .filter((line) => !line.includes(' cmd=client|list '));
    assert.equal(others.length, 2, others.join('\n'));
    for (const line of others) assert.match(line, / cmd=(evalsha|eval) /);
  } finally {
    admin.disconnect();
  }
  for (const res of answers.slice(3)) {
    // Burst spent at 0.01 a second: the next token is 100 s away (a moment less, rounded up), or
    // 99 once the 16 requests took over a second (a loaded machine's).
    assert.match(String(res.headers['retry-after']), /^(?:100|99)$/);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.match(
      String(res.headers['proxy-status']),
      /^pair; error=http_request_denied; details="over the rate limit of 0\.01 requests per second \(burst 3\) for this client address"; next-hop="app"$/,
    );
  }
});
