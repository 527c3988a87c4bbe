/**
 * A restart keeps a canary's verdict, as a reload does. A gateway alone started a rolled-back
 * canary again from its first step (10 % of traffic back to a version found worse), a promoted
 * one too (90 % back to the old one): now the verdict is kept on disk (state_dir, by default in
 * XDG_STATE_HOME or systemd's STATE_DIRECTORY) and in force again at the next start. In a fleet
 * the verdict is kept in Redis, and no longer ends with the running canary's time there.
 */
import assert from 'node:assert/strict';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { type CanaryOrigin, paceLoad, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { cuttableRelay } from '../../helpers/cuttable-relay.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { adminCall, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';
import { canaryRoutes, TOKEN } from './canary-fixture.ts';

let stable: CanaryOrigin;
let next: CanaryOrigin;
let redis: RedisProcess;
const dirs: string[] = [];

before(async () => {
  stable = await startCanaryOrigin('stable');
  next = await startCanaryOrigin('next');
  redis = await startRedis();
});

after(async () => {
  await stable?.close();
  await next?.close();
  await redis?.kill();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// Never judged (too few requests): only the operator moves it.
const canary = 'steps: [10, 50], step_interval: 10s, check_interval: 200ms, min_requests: 100000';

function folder(): string {
  const dir = tempDir('candor-verdict-restart-');
  dirs.push(dir);
  return dir;
}

test('candor serve restarted keeps a rolled-back canary rolled back, and a promoted one promoted; one started again runs from its first step', {
  timeout: 120_000,
}, async () => {
  const dir = folder();
  const stateHome = join(dir, 'state');
  const adminPort = await freePort();
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: canary-edge
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: token }
${canaryRoutes(canary, stable.url, next.url)}`,
  );
  // The state folder is the default one, as under systemd: XDG_STATE_HOME kept across restarts.
  const serve = () => startServe(path, 1, { admin: true, env: { XDG_STATE_HOME: stateHome } });
  const call = (method: string, p: string, body?: unknown) =>
    adminCall(adminPort, method, p, { token: TOKEN, body });
  const canaryNow = async () =>
    ((await call('GET', '/canary')).body.canaries as Record<string, unknown>[])[0];

  for (const [action, phase, share, only] of [
    ['rollback', 'rolled_back', 0, 'stable'],
    ['promote', 'promoted', 100, 'next'],
  ] as const) {
    let first = await serve();
    try {
      await first.waitForLines('canary step', 1, 15_000);
      assert.equal((await call('POST', `/canary/${action}`, { route: 'api' })).status, 200, action);
    } finally {
      assert.equal(await first.stop(), 0);
    }
    first = await serve();
    try {
      await first.waitForLines('canary verdict kept from before the restart', 1, 15_000);
      const kept = await canaryNow();
      // Before, the restart began it again: running at 10 %.
      assert.equal(kept.phase, phase, action);
      assert.equal(kept.share, share, action);
      assert.equal(first.lines.filter((l) => l.msg === 'canary step').length, 0, action);
      const load = await paceLoad(`http://127.0.0.1:${first.port}`, 400, () => false, 40);
      assert.deepEqual(load.bodies, { [only]: 40 }, action);
      // The operator starts it again: from its first step, and a restart then begins it anew too.
      assert.equal((await call('POST', '/canary/start', { route: 'api' })).status, 200, action);
      assert.equal((await canaryNow()).share, 10, action);
    } finally {
      assert.equal(await first.stop(), 0);
    }
    assert.deepEqual(readdirSync(join(stateHome, 'candor', 'canaries', 'canary-edge')), [], action);
  }
});

test('a canary paused at a share set by hand that is no whole percent (weights 1 and 2) comes back paused at it after a restart', {
  timeout: 120_000,
}, async () => {
  const dir = folder();
  const adminPort = await freePort();
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: canary-edge
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: token }
state_dir: ${join(dir, 'state')}
${canaryRoutes(canary, stable.url, next.url)}`,
  );
  const call = (method: string, p: string, body?: unknown) =>
    adminCall(adminPort, method, p, { token: TOKEN, body });
  const canaryNow = async () =>
    ((await call('GET', '/canary')).body.canaries as Record<string, unknown>[])[0];
  let serve = await startServe(path, 1, { admin: true });
  try {
    await serve.waitForLines('canary step', 1, 15_000);
    const sides = [
      { upstream: 'next', weight: 1 },
      { upstream: 'stable', weight: 2 },
    ];
    assert.equal((await call('PUT', '/routes/split', { route: 'api', sides })).status, 200);
    await waitUntil('paused by hand', async () => (await canaryNow()).phase === 'paused');
    assert.equal((await canaryNow()).share, 33.33);
  } finally {
    assert.equal(await serve.stop(), 0);
  }
  serve = await startServe(path, 1, { admin: true });
  try {
    await serve.waitForLines('canary verdict kept from before the restart', 1, 15_000);
    // Before, its 33.33 went to the workers as a weight, which they refused: "canary failed to
    // start", and the canary said running at 0 %, sending nothing to the canary.
    assert.equal(serve.lines.filter((l) => l.msg === 'canary failed to start').length, 0);
    const kept = await canaryNow();
    assert.deepEqual([kept.phase, kept.share], ['paused', 33.33]);
    const load = await paceLoad(`http://127.0.0.1:${serve.port}`, 400, () => false, 300);
    assert.ok((load.bodies.next ?? 0) > 50 && (load.bodies.stable ?? 0) > 150, JSON.stringify(load.bodies));
  } finally {
    assert.equal(await serve.stop(), 0);
  }
});

test("in a fleet the verdict is kept in Redis without expiry: a gateway started after the running canary's time keeps it", {
  timeout: 60_000,
}, async () => {
  const text = `name: fleet-edge
listen:
  - address: 127.0.0.1:0
store:
  redis: { url: "${redis.url}", timeout: 2s }
${canaryRoutes(canary, stable.url, next.url)}`;
  const client = new Redis(redis.url);
  try {
    const a = await startGatewayFromText(text);
    try {
      await waitUntil('the first step', () => a.gateway.canaries()[0]?.share === 10, 15_000);
      const done = await a.gateway.canary('api', 'rollback', 'op');
      assert.ok('status' in done && done.status.phase === 'rolled_back');
      await waitUntil('written', () => a.gateway.canaries()[0]?.phase === 'rolled_back', 5_000);
      let ttl = 0;
      for (let tries = 0; tries < 50; tries++) {
        const state = JSON.parse((await client.get('candor:canary:api:state')) ?? 'null');
        ttl = await client.pttl('candor:canary:api:state');
        if (state?.phase === 'rolled_back') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // Before, it ended an hour later (2 × max_duration at least): a gateway started then began
      // the rolled-back canary again from its first step.
      assert.equal(ttl, -1);
    } finally {
      await a.close();
    }
    const b = await startGatewayFromText(text);
    try {
      await waitUntil('joined', () => b.gateway.canaries()[0]?.phase === 'rolled_back', 15_000);
      assert.equal(b.gateway.canaries()[0].share, 0);
    } finally {
      await b.close();
    }
  } finally {
    client.disconnect();
  }
});

test('in a fleet whose store does not answer at the restart, the verdict the gateway kept on disk stands until it answers', {
  timeout: 60_000,
}, async () => {
  const relay = await cuttableRelay(redis.port);
  const text = `name: fleet-edge
listen:
  - address: 127.0.0.1:0
state_dir: ${join(folder(), 'state')}
store:
  redis: { url: "redis://:test-secret-password@127.0.0.1:${relay.port}", timeout: 500ms, prefix: "cut:" }
${canaryRoutes(canary, stable.url, next.url)}`;
  try {
    const a = await startGatewayFromText(text);
    try {
      await waitUntil('the first step', () => a.gateway.canaries()[0]?.share === 10, 15_000);
      const done = await a.gateway.canary('api', 'rollback', 'op');
      assert.ok('status' in done && done.status.phase === 'rolled_back');
    } finally {
      await a.close();
    }
    relay.cut();
    const b = await startGatewayFromText(text);
    try {
      await waitUntil(
        'the kept verdict',
        () => b.logs.some((l) => l.msg === 'canary verdict kept from before the restart'),
        15_000,
      );
      // Before, a store that did not answer at the start began the canary again: 10 % to it.
      assert.equal(b.gateway.canaries()[0].phase, 'rolled_back');
      assert.equal(b.gateway.canaries()[0].share, 0);
      assert.equal(b.logs.filter((l) => l.msg === 'canary step').length, 0);
      const load = await paceLoad(b.url, 400, () => false, 40);
      assert.deepEqual(load.bodies, { stable: 40 });
    } finally {
      await b.close();
    }
  } finally {
    await relay.close();
  }
});
