/**
 * The order of a fleet's canary states is the order Redis took them in, not the gateways'
 * clocks. The states were numbered by the wall clock of the gateway that wrote them: the leader
 * A, its clock an hour ahead, steps the canary; an operator's rollback on B a moment later,
 * before B's next look had seen that step, was numbered below it, ignored by A, and overwritten
 * by A's next step: the canary went on to 50 % after an operator had rolled it back. Now Redis
 * numbers each state (one more than the stored one), B acts on the fleet's state as it is, and a
 * step decided before a rollback is refused by Redis.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { type CanaryOrigin, paceLoad, startCanaryOrigin } from '../helpers/canary-origin.ts';
import { closeAll } from '../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../helpers/redis-server.ts';
import { type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { startGatewayFromText } from '../helpers/test-gateway.ts';
import { waitUntil } from '../helpers/wait.ts';
import { canaryRoutes } from '../server/canary/canary-fixture.ts';

let redis: RedisProcess;
let stable: CanaryOrigin;
let next: CanaryOrigin;
let a: ServeProcess | undefined;

before(async () => {
  redis = await startRedis();
  stable = await startCanaryOrigin('stable');
  next = await startCanaryOrigin('next');
});

after(() => closeAll(a, redis, stable, next));

/** Date.now an hour ahead in every process of `candor serve` (the primary judges). */
const AHEAD = '--import=data:text/javascript,Date.now=((now)=>()=>now()+3600000)(Date.now)';

test("an operator's rollback on a gateway that had not seen the leader's latest step is not overwritten by the leader's next", async () => {
  // A healthy canary that passes its steps on A's traffic: A leads (started first) and steps it.
  const text = `name: fleet
listen:
  - address: 127.0.0.1:0
store:
  redis: { url: "${redis.url}", timeout: 2s }
${canaryRoutes('steps: [10, 30, 50], step_interval: 1s, check_interval: 500ms, min_requests: 20', stable.url, next.url)}`;
  const path = join(tempDir('candor-canary-clocks-'), 'candor.yaml');
  writeFileSync(path, text);
  a = await startServe(path, 1, { env: { NODE_OPTIONS: AHEAD } });
  const served = a;
  await served.waitForLines('canary step', 1, 15_000);
  const b = await startGatewayFromText(text);
  const client = new Redis(redis.url);
  const stateOf = async () => JSON.parse((await client.get('candor:canary:api:state')) ?? 'null');
  try {
    await waitUntil('B joining', () => b.gateway.canaries()[0]?.share === 10, 15_000);
    let stop = false;
    const load = paceLoad(`http://127.0.0.1:${served.port}`, 200, () => stop, 20_000);
    // The moment the leader's second step is in Redis, before B's next look: the operator on B.
    let state = await stateOf();
    for (const deadline = Date.now() + 30_000; state?.step !== 1 && Date.now() < deadline; )
      state = await stateOf();
    assert.equal(state?.step, 1, 'A stepped the canary');
    const rolledBack = await b.gateway.canary('api', 'rollback', 'op-b');
    assert.ok('status' in rolledBack && rolledBack.status.phase === 'rolled_back');
    // Until A follows the rollback, or writes a step over it.
    await waitUntil(
      'A to follow the rollback or step over it',
      () =>
        served.lines.some((l) => l.msg === 'canary adopted from the fleet' && l.phase === 'rolled_back') ||
        served.lines.filter((l) => l.msg === 'canary step').length > 2,
      30_000,
    );
    stop = true;
    await load;
    assert.deepEqual(
      served.lines.filter((l) => l.msg === 'canary step').map((l) => l.share),
      [10, 30],
      'no step after the rollback',
    );
    assert.equal((await stateOf()).phase, 'rolled_back');
    await waitUntil('B staying rolled back', () => b.gateway.canaries()[0]?.phase === 'rolled_back', 5000);
  } finally {
    client.disconnect();
    await b.close();
  }
});
