/**
 * A fleet's canary whose store (Redis) does not answer: nobody judges (the counts are the
 * fleet's), so the canary sat at its step for ever, max_duration never enforced, half-rolled.
 * Now the gateway that cannot reach the store rolls back at max_duration on its own (the safe
 * side), says so in its log and its status, and once the store answers again writes its rollback
 * over the fleet's state: a promotion another gateway published meanwhile does not undo it
 * silently. Gateway A reaches Redis through a relay the test cuts (a partition); B directly.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { type CanaryOrigin, paceLoad, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { type CuttableRelay, cuttableRelay } from '../../helpers/cuttable-relay.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { canaryRoutes } from './canary-fixture.ts';

let stable: CanaryOrigin;
let next: CanaryOrigin;
let redis: RedisProcess;
let relay: CuttableRelay;

before(async () => {
  stable = await startCanaryOrigin('stable');
  next = await startCanaryOrigin('next');
  redis = await startRedis();
  relay = await cuttableRelay(redis.port);
});

after(() => closeAll(relay, stable, next, redis));

// Never judged (min_requests out of reach): only max_duration and the operators move it.
const canary =
  'steps: [10, 30], step_interval: 1s, check_interval: 250ms, min_requests: 100000, max_duration: 3s';
const gatewayOn = (url: string) =>
  startGatewayFromText(`name: fleet-edge
listen:
  - address: 127.0.0.1:0
store:
  redis: { url: "${url}", timeout: 2s }
${canaryRoutes(canary, stable.url, next.url)}`);

test("a gateway cut from the fleet's store rolls back at max_duration, says so, and its rollback stands once the store answers", async () => {
  const a = await gatewayOn(`redis://:test-secret-password@127.0.0.1:${relay.port}`);
  const client = new Redis(redis.url);
  const stateOf = async () => JSON.parse((await client.get('candor:canary:api:state')) ?? 'null');
  let b: Awaited<ReturnType<typeof gatewayOn>> | undefined;
  try {
    const aCanary = () => a.gateway.canaries()[0];
    await waitUntil('the first step', () => aCanary()?.share === 10, 15_000);
    await waitUntil('the step in the fleet', () => aCanary().last_verdict !== null, 15_000);
    relay.cut();
    await waitUntil('A rolled back', () => aCanary().phase !== 'running', 30_000);
    const down = aCanary();
    assert.equal(down.phase, 'rolled_back');
    assert.equal(down.share, 0);
    assert.equal(down.failed_metric, 'max_duration');
    assert.match(
      String(down.reason),
      /^max_duration \(3000 ms\) passed with the fleet's store unreachable \(/,
    );
    assert.equal(typeof down.fleet_error, 'string');
    const said = a.logs.filter(
      (l) => l.msg === 'canary rolled back: its fleet unreachable past max_duration',
    );
    assert.equal(said.length, 1);
    assert.equal(a.logs.filter((l) => l.msg.startsWith('canary fleet store unreachable')).length, 1);
    const load = await paceLoad(a.url, 200, () => false, 50);
    assert.deepEqual(load.bodies, { stable: 50 }, 'A sends the canary nothing');
    // The fleet never heard of it: its state is the step A wrote before the cut.
    assert.equal((await stateOf()).phase, 'running');

    // Meanwhile an operator on B, which reaches the store, promotes the fleet's canary.
    b = await gatewayOn(redis.url);
    const bCanary = () => b?.gateway.canaries()[0];
    await waitUntil('B joining', () => bCanary()?.share === 10, 15_000);
    const promoted = await b.gateway.canary('api', 'promote', 'op-b');
    assert.ok('status' in promoted && promoted.status.phase === 'promoted');

    relay.mend();
    // A's rollback, decided where it could not see the promotion, is written over it: the safe side.
    await waitUntil('B following A', () => bCanary()?.phase === 'rolled_back', 30_000);
    assert.equal(bCanary()?.share, 0);
    assert.equal((await stateOf()).phase, 'rolled_back');
    await waitUntil('A reaching the store', () => aCanary().fleet_error === null, 30_000);
    assert.equal(aCanary().phase, 'rolled_back');
    assert.equal(aCanary().share, 0);
  } finally {
    client.disconnect();
    await b?.close();
    await a.close();
  }
});
