/**
 * Two `candor serve` gateways on one real Redis judge one canary as a fleet (issue 36, item 4):
 * every request goes through gateway B, yet gateway A, the holder of the canary's lease, rolls it
 * back: it judged the fleet's counts (B's), not its own (none). B adopts the verdict, and from
 * then on neither sends the canary anything.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type CanaryOrigin, paceLoad, startCanaryOrigin } from '../helpers/canary-origin.ts';
import { closeAll } from '../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../helpers/redis-server.ts';
import { type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

let redis: RedisProcess;
let stable: CanaryOrigin;
let next: CanaryOrigin;
let path: string;
const gateways: ServeProcess[] = [];

before(async () => {
  redis = await startRedis();
  stable = await startCanaryOrigin('stable');
  next = await startCanaryOrigin('next');
  path = join(tempDir('candor-canary-fleet-'), 'candor.yaml');
  writeFileSync(
    path,
    `name: fleet
listen:
  - address: 127.0.0.1:0
store:
  redis: { url: "${redis.url}", timeout: 2s }
routes:
  - name: api
    match: { path: / }
    upstream: stable
    # 100: the five resets of a canary's 100 requests are sure by the exact test at any look
    canary: { upstream: next, steps: [10, 30], step_interval: 1s, min_requests: 100 }
upstreams:
  stable:
    targets:
      - url: ${stable.url}
  next:
    targets:
      - url: ${next.url}
    retries: { attempts: 1 }
`,
  );
});

after(() => closeAll(gateways, redis, stable, next));

const linesOf = (gateway: ServeProcess, msg: string) =>
  gateway.lines.filter((l) => l.msg === msg && l.route === 'api');

test("one verdict for the fleet: A judges B's counts and rolls back; B follows", async () => {
  const a = await startServe(path, 1);
  gateways.push(a);
  await a.waitForLines('canary step', 1);
  // A takes the lease at its first tick; B, started after, joins the canary A started.
  await new Promise((r) => setTimeout(r, 1500));
  const b = await startServe(path, 1);
  gateways.push(b);
  await b.waitForLines('canary adopted from the fleet', 1);
  assert.deepEqual(linesOf(b, 'canary step'), [], 'B joined the canary under way: it did not start one');

  next.resetEvery = 20;
  const worse = () => linesOf(a, 'canary worse').length > 0;
  const load = await paceLoad(`http://127.0.0.1:${b.port}`, 200, worse, 6000);
  assert.ok(worse(), `A did not roll back after ${load.sent} requests through B`);
  const [verdict] = linesOf(a, 'canary worse');
  assert.equal(verdict.metric, 'reset');
  assert.deepEqual(linesOf(b, 'canary worse'), [], 'one gateway judged');
  // A served nothing: its verdict is on B's requests, shared through Redis.
  assert.match(String(verdict.canary_figure), /^[1-9]\d*\/\d{3,} /);

  await b.waitForLines('canary adopted from the fleet', 2, 10_000);
  const adopted = linesOf(b, 'canary adopted from the fleet').at(-1);
  assert.equal(adopted?.phase, 'rolled_back');
  assert.equal(adopted?.share, 0);
  const before = next.received;
  const quiet = await paceLoad(`http://127.0.0.1:${b.port}`, 200, () => false, 100);
  assert.equal(quiet.bodies.stable, 100);
  assert.equal(next.received, before, 'B sends the canary nothing after the fleet rolled it back');
});
