/**
 * A cluster worker asks the primary for each request of a rate-limited route, and decides alone
 * on its share when no answer comes within 50 ms. The questions it wrote before that, the primary
 * reads when it can (stopped, stalled on a long task, a GC): a question read past the time its
 * worker gave up on it takes no token of the gateway's bucket, for its worker decided that request.
 * Before, each took one: a client whose requests were refused by the worker's share during a
 * stall had the gateway's bucket emptied by them too, and met 429s once the primary was back.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Fault } from '../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { freePort } from '../helpers/wait.ts';

const linux = process.platform === 'linux';
const dir = tempDir('candor-rate-late-');
let echo: Fault;
let serve: ServeProcess;

before(async () => {
  if (!linux) return;
  echo = await startEcho();
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: rate-late
listen:
  - address: 127.0.0.1:${await freePort()}
routes:
  - name: limited
    upstream: app
    rate_limit: { rate: 0.000001, burst: 5 }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`,
  );
  serve = await startServe(path, 1);
});

after(async () => {
  if (!linux) return;
  await closeAll(serve, echo);
  rmSync(dir, { recursive: true, force: true });
});

const get = () => request(`http://127.0.0.1:${serve.port}`, { path: '/x', timeoutMs: 30_000 });
const requestLines = () => serve.lines.filter((l) => l.msg === 'request');

test("questions the primary reads after their worker gave up on them take no token of the gateway's bucket", {
  skip: !linux,
}, async () => {
  assert.equal((await get()).status, 200, 'the primary answers: 4 tokens left');
  const primary = serve.child.pid as number;
  process.kill(primary, 'SIGSTOP');
  try {
    // Decided by the worker alone, on its own bucket (5 tokens: 5 pass, 5 are 429).
    for (let i = 0; i < 10; i++) await get();
  } finally {
    process.kill(primary, 'SIGCONT');
  }
  await serve.waitForLines('request', 11);
  // The worker's bucket is spent: the primary's answers are the 200s now, one per token it kept.
  const judged: number[] = [];
  for (let tries = 0; judged.at(-1) !== 429; tries++) {
    assert.ok(tries < 100, `the primary's answers: ${judged.join(' ')}`);
    const seen = requestLines().length;
    const { status } = await get();
    await serve.waitForLines('request', seen + 1);
    if (requestLines().at(-1)?.rate_limit_unchecked === undefined) judged.push(status);
  }
  assert.deepEqual(judged, [200, 200, 200, 200, 429]);
});
