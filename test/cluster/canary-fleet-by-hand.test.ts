/**
 * A canary's share set by hand on one gateway of a fleet (PUT /routes/split on B, a `candor
 * serve`; A, in-process, started first) was answered 200 before its state was written to Redis:
 * another gateway's write that landed first won, and B's next look brought the fleet's share back
 * over the operator's weights, silently. Now the split is answered once the fleet took it; a
 * write that landed first makes it a 409 with no change on B; a Redis B cannot reach, a 503 that
 * says the weights hold on B only. B reaches Redis through a relay that holds or cuts its path.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { type CanaryOrigin, paceLoad, startCanaryOrigin } from '../helpers/canary-origin.ts';
import { type CuttableRelay, cuttableRelay } from '../helpers/cuttable-relay.ts';
import { closeAll } from '../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../helpers/redis-server.ts';
import { adminCall, type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { startGatewayFromText, type TestGateway } from '../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../helpers/wait.ts';
import { canaryRoutes } from '../server/canary/canary-fixture.ts';

const TOKEN = 'canary-by-hand-token-abcdefghijkl';
/** The start of the script every state is written with (canary-fleet.ts PUBLISH_SCRIPT). */
const PUBLISH = "local stored = redis.call('GET'";
// Never judged (min_requests out of reach), never timed out: only the operators move it.
const CANARY =
  'steps: [10, 30], step_interval: 1s, check_interval: 250ms, min_requests: 100000, max_duration: 1h';

let redis: RedisProcess;
let stable: CanaryOrigin;
let next: CanaryOrigin;
let relay: CuttableRelay;
let client: Redis;
let a: TestGateway | undefined;
let b: ServeProcess | undefined;

before(async () => {
  redis = await startRedis();
  stable = await startCanaryOrigin('stable');
  next = await startCanaryOrigin('next');
  relay = await cuttableRelay(redis.port);
  client = new Redis(redis.url);
});

afterEach(async () => {
  relay.release();
  relay.mend();
  await b?.stop();
  await a?.close();
  a = undefined;
  b = undefined;
  await client.flushall();
});

after(() => closeAll(client, relay, stable, next, redis));

const text = (url: string, admin = '', canary = CANARY) => `name: fleet-edge
listen:
  - address: 127.0.0.1:0
${admin}store:
  redis: { url: "${url}", timeout: 2s }
${canaryRoutes(canary, stable.url, next.url)}`;

const stateOf = async () => JSON.parse((await client.get('candor:canary:api:state')) ?? 'null');

/** A, then B (its admin API on, its Redis through the relay) once A's first step is the fleet's. */
async function fleet(canary = CANARY) {
  a = await startGatewayFromText(text(redis.url, '', canary));
  const first = a;
  await waitUntil('the first step', () => first.gateway.canaries()[0]?.share === 10, 15_000);
  const dir = tempDir('candor-by-hand-');
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  const adminPort = await freePort();
  const path = join(dir, 'candor.yaml');
  const admin = `admin: { listen: "127.0.0.1:${adminPort}", token_file: ${join(dir, 'token')} }\n`;
  writeFileSync(path, text(`redis://:test-secret-password@127.0.0.1:${relay.port}`, admin, canary));
  b = await startServe(path, 1, { admin: true });
  await b.waitForLines('canary adopted from the fleet', 1, 15_000);
  const call = (method: string, p: string, body?: unknown) =>
    adminCall(adminPort, method, p, { token: TOKEN, body });
  return { a: first, b, call, url: `http://127.0.0.1:${b.port}` };
}

const half = {
  route: 'api',
  sides: [
    { upstream: 'next', weight: 50 },
    { upstream: 'stable', weight: 50 },
  ],
};

test("a split by hand on B that another gateway's write beat is a 409, and B keeps the fleet's state", {
  timeout: 90_000,
}, async () => {
  const f = await fleet();
  const held = relay.holdAt(PUBLISH);
  const put = f.call('PUT', '/routes/split', half);
  // B's write of the paused state waits in the relay while an operator on A promotes the canary.
  await held;
  const promoted = await f.a.gateway.canary('api', 'promote', 'op-a');
  assert.ok('status' in promoted && promoted.status.phase === 'promoted');
  relay.release();
  const answer = await put;
  assert.equal(answer.status, 409);
  assert.equal(answer.type, 'application/problem+json');
  assert.equal(answer.body.title, 'Conflict');
  assert.match(
    String(answer.body.detail),
    /^the fleet's canary of route "api" changed on another gateway meanwhile \(now promoted at 100%\): the weights were not set; look again and try again$/,
  );
  const told = answer.body.canary as Record<string, unknown>;
  assert.equal(told.phase, 'promoted');
  assert.equal(told.share, 100);
  const state = await stateOf();
  assert.equal(state.phase, 'promoted');
  assert.equal(state.share, 100);
  assert.equal(state.reason, 'promoted by op-a');
  // B's workers carry the fleet's state, not the refused weights: every request to the canary.
  const before = stable.received;
  const load = await paceLoad(f.url, 200, () => false, 40);
  assert.deepEqual(load.bodies, { next: 40 });
  assert.equal(stable.received, before);
  const [shown] = (await f.call('GET', '/canary')).body.canaries as Record<string, unknown>[];
  assert.equal(shown.phase, 'promoted');
  assert.equal(shown.share, 100);
  assert.deepEqual(
    f.b.lines.filter((l) => l.msg === 'canary action' && l.action === 'pause'),
    [],
    'no pause logged for weights the fleet refused',
  );
});

test("a split by hand on B that the lease holder's step beat is a 409, and B follows the step", {
  timeout: 90_000,
}, async () => {
  // A healthy canary that passes its steps on A's traffic: A leads (started first) and steps it.
  const f = await fleet(
    'steps: [10, 30, 50], step_interval: 1s, check_interval: 250ms, min_requests: 20, max_duration: 1h',
  );
  const held = relay.holdAt(PUBLISH);
  const put = f.call('PUT', '/routes/split', half);
  await held;
  const stepped = () => f.a.gateway.canaries()[0]?.share === 30;
  await paceLoad(f.a.url, 200, stepped, 20_000);
  assert.ok(stepped(), "A stepped the canary while B's write waited");
  relay.release();
  const answer = await put;
  assert.equal(answer.status, 409);
  assert.match(String(answer.body.detail), /changed on another gateway meanwhile \(now running at 30%\)/);
  const state = await stateOf();
  assert.equal(state.phase, 'running');
  assert.equal(state.share, 30);
  const [shown] = (await f.call('GET', '/canary')).body.canaries as Record<string, unknown>[];
  assert.equal(shown.phase, 'running');
  assert.equal(shown.share, 30);
  assert.equal(f.a.gateway.canaries()[0].phase, 'running');
});

test('a split by hand on B is answered once the fleet holds it, and A follows it', {
  timeout: 90_000,
}, async () => {
  const f = await fleet();
  const answer = await f.call('PUT', '/routes/split', {
    route: 'api',
    sides: [
      { upstream: 'next', weight: 1 },
      { upstream: 'stable', weight: 3 },
    ],
  });
  assert.equal(answer.status, 200);
  assert.equal((answer.body.canary as Record<string, unknown>).phase, 'paused');
  assert.equal((answer.body.canary as Record<string, unknown>).share, 25);
  // Written before the answer: what Redis holds now is the operator's.
  const state = await stateOf();
  assert.equal(state.phase, 'paused');
  assert.equal(state.share, 25);
  assert.match(state.reason, /^share set by hand to 25% by admin /);
  await waitUntil('A following', () => f.a.gateway.canaries()[0]?.phase === 'paused', 15_000);
  assert.equal(f.a.gateway.canaries()[0].share, 25);
});

test("a split by hand on B with the fleet's Redis out of B's reach is a 503 that says so; written once it answers", {
  timeout: 90_000,
}, async () => {
  const f = await fleet();
  relay.cut();
  const answer = await f.call('PUT', '/routes/split', {
    route: 'api',
    sides: [
      { upstream: 'next', weight: 0 },
      { upstream: 'stable', weight: 100 },
    ],
  });
  assert.equal(answer.status, 503);
  assert.equal(answer.body.title, 'Canary not shared');
  assert.match(
    String(answer.body.detail),
    /^the weights are in force on this gateway only: the fleet's store did not answer \(/,
  );
  const told = answer.body.canary as Record<string, unknown>;
  assert.equal(told.phase, 'paused');
  assert.equal(told.share, 0);
  assert.equal(typeof told.fleet_error, 'string');
  // In force on B: nothing to the canary.
  const load = await paceLoad(f.url, 200, () => false, 30);
  assert.deepEqual(load.bodies, { stable: 30 });
  assert.equal((await stateOf()).phase, 'running', 'the fleet never heard of it');
  relay.mend();
  await waitUntil(
    'A following once B reaches Redis',
    () => f.a.gateway.canaries()[0]?.phase === 'paused',
    30_000,
  );
  assert.equal(f.a.gateway.canaries()[0].share, 0);
  assert.equal((await stateOf()).share, 0);
});
