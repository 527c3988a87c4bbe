/**
 * A cluster worker asks the primary for each request of a rate-limited route, and decides alone
 * on its share when no answer comes within 50 ms. A primary that reads nothing (stopped, or
 * stalled on a long task) must not make the worker queue every question in its memory for as
 * long as the stall lasts, nor take, once back, a token for each request the worker decided
 * alone meanwhile.
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
const dir = tempDir('candor-rate-ask-');
let echo: Fault;
let serve: ServeProcess;

// A bucket that never refills within the test: what it holds is the burst less every token taken.
const BURST = 3000;

before(async () => {
  if (!linux) return;
  echo = await startEcho();
  // A port of its own: the worker listens itself (on port 0 the primary would accept for it).
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: rate-ask
listen:
  - address: 127.0.0.1:${await freePort()}
routes:
  - name: limited
    upstream: app
    rate_limit: { rate: 0.000001, burst: ${BURST} }
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

test('a stopped primary is asked at most a bounded number of times: back, its bucket holds what the questions it got left', {
  skip: !linux,
}, async () => {
  const judged = () => serve.lines.filter((l) => l.msg === 'request').map((l) => l.rate_limit_unchecked);
  // The primary answers (its first answers may come past the 50 ms on a loaded machine: the
  // worker then judges alone, and says so; asked again, a warm primary is in time).
  for (let tries = 1; !judged().includes(undefined) && tries <= 20; tries++) {
    assert.equal((await get()).status, 200);
    await serve.waitForLines('request', tries);
  }
  assert.ok(judged().includes(undefined), "the shared bucket's answer: nothing to say");
  const before = judged().length;
  const primary = serve.child.pid as number;
  process.kill(primary, 'SIGSTOP');
  try {
    // 8000 requests while it reads nothing: the worker decides each alone on its own bucket
    // (3000 pass, the rest are 429). Before, each question waited in the worker's channel,
    // and the primary took 8000 tokens once back: its bucket of 3000 was empty for ever.
    for (let sent = 0; sent < 8000; sent += 200) {
      const answers = await Promise.all(Array.from({ length: 200 }, get));
      for (const a of answers) assert.ok(a.status === 200 || a.status === 429, String(a.status));
    }
  } finally {
    process.kill(primary, 'SIGCONT');
  }
  // Each line of the stall says its limit was this worker's alone (the worker writes its lines itself).
  await serve.waitForLines('request', before + 8000, 30_000);
  assert.deepEqual(
    new Set(judged().slice(before)),
    new Set(["the primary did not answer within 50 ms: judged on this worker's share of the limit alone"]),
  );
  // The worker's own bucket is spent: a 200 now is the primary's answer, from a bucket the
  // stall's questions did not empty.
  let status = 0;
  for (let tries = 0; status !== 200 && tries < 100; tries++) {
    status = (await get()).status;
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(status, 200);
});
