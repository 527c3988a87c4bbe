/**
 * Ejections and open circuits are told to every worker: under `candor serve --workers 2`,
 * once one worker ejected a dead target, requests landing on the other worker skip it
 * rather than each worker finding it dead with a request of its own.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Fault } from '../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const dir = tempDir('candor-eject-shared-');
let alive: Fault;
let refusing: Fault;
let dead: string;
let serve: ServeProcess;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  alive = await startEcho();
  refusing = await startRefusing();
  dead = refusing.url;
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: eject-shared
listen:
  - address: 127.0.0.1:0
routes:
  - upstream: app
upstreams:
  app:
    balancer: round_robin
    targets:
      - url: ${dead}
      - url: ${alive.url}
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s, max_ejected_percent: 50 }
`,
  );
  serve = await startServe(path, 2);
});

after(() => closeAll(serve, alive, refusing));

const linesFor = (prefix: string) =>
  serve.lines.filter((l) => l.msg === 'request' && String(l.path).startsWith(prefix));
const triedDead = (line: Record<string, unknown>) =>
  Array.isArray(line.tries) && line.tries.some((t: { target: string }) => t.target === dead);

test('after one worker ejects a target, requests on the other worker skip it', async () => {
  const base = `http://127.0.0.1:${serve.port}`;
  // Until a request met the dead target (round robin reaches it within a worker's first two).
  for (let i = 0; i < 4 && !linesFor('/first').some(triedDead); i++) {
    assert.equal(
      (await request(base, { path: `/first${i}` })).status,
      200,
      'the retry reaches the live target',
    );
    await serve.waitForLines('request', i + 1);
  }
  assert.ok(linesFor('/first').some(triedDead), 'a worker met the dead target and ejected it');
  // The news goes worker → primary → worker: a moment.
  await sleep(200);
  // Fresh connections, one at a time: the cluster hands them to the two workers in turn.
  for (let i = 0; i < 8; i++) {
    assert.equal((await request(base, { path: `/after${i}` })).status, 200);
  }
  await serve.waitForLines('request', linesFor('/first').length + 8);
  const after = linesFor('/after');
  assert.equal(after.length, 8);
  assert.deepEqual(
    after.filter(triedDead).map((l) => l.path),
    [],
    'no worker tried the ejected target again',
  );
});
