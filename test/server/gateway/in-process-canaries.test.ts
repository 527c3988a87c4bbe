/**
 * A canary judged by a gateway run in-process, as a library (issue 36): the controller `candor
 * serve` runs in its primary runs here on the process's own windows. A canary that resets 5 %
 * of its requests is rolled back, a healthy one is promoted, and the operator's actions (the
 * Gateway's canary(), as the admin API's POST /canary/ACTION) move it, each on the timeline and
 * in the metrics. With store.redis, two library gateways judge one canary as a fleet. The tests
 * count requests, never time.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { type CanaryOrigin, paceLoad, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { untilFleetClients } from '../../helpers/fleet-clients.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';
import { canaryRoutes } from '../canary/canary-fixture.ts';

let stable: CanaryOrigin;
let next: CanaryOrigin;

before(async () => {
  stable = await startCanaryOrigin('stable');
  next = await startCanaryOrigin('next');
});

after(() => closeAll(stable, next));

/** A library gateway with route `api`: baseline `stable`, canary `next`; `canary` is the flow mapping's inside. */
function startCanaryLibrary(canary: string, extra = ''): Promise<TestGateway> {
  stable.resetEvery = 0;
  next.resetEvery = 0;
  return startGatewayFromText(canaryConfig(canary, extra));
}

function canaryConfig(canary: string, extra = ''): string {
  return `name: library-edge
listen:
  - address: 127.0.0.1:0
metrics: { listen: "127.0.0.1:0" }
${canaryRoutes(canary, stable.url, next.url)}${extra}`;
}

const linesOf = (gw: TestGateway, msg: string) => gw.logs.filter((l) => l.msg === msg && l.route === 'api');

/** Waits (bounded) until `done()`; the machine is loaded, so the bound is generous and never asserted. */
async function until(done: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what} after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function scrape(gw: TestGateway): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${gw.gateway.metricsPort()}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

const canaryEvents = (gw: TestGateway) =>
  gw.gateway.timeline.ring
    .list()
    .filter((e) => e.kind === 'canary')
    .map((e) => e as unknown as Record<string, unknown>);

/**
 * Two library gateways on one Redis, one canary between them: A starts it, B joins it under way;
 * then `body` runs on both, and both are closed and the Redis stopped, whatever happened.
 */
async function withFleet(
  canary: string,
  body: (a: TestGateway, b: TestGateway) => Promise<void>,
): Promise<void> {
  const redis: RedisProcess = await startRedis();
  const store = `store:\n  redis: { url: "${redis.url}", timeout: 2s }\n`;
  const a = await startCanaryLibrary(canary, store);
  let b: TestGateway | undefined;
  try {
    await until(() => linesOf(a, 'canary step').length > 0, "A's first step");
    b = await startCanaryLibrary(canary, store);
    const gwB = b;
    await until(() => linesOf(gwB, 'canary adopted from the fleet').length > 0, 'B joining the canary');
    await body(a, gwB);
  } finally {
    await b?.close();
    await a.close();
    await redis.kill();
  }
}

test('a library gateway rolls back a canary that resets 5 % of its requests, at its first step', async () => {
  const gw = await startCanaryLibrary('steps: [10, 30], step_interval: 1s, min_requests: 100');
  try {
    await until(() => linesOf(gw, 'canary step').length > 0, 'the first step');
    next.resetEvery = 20;
    const rolledBack = () => linesOf(gw, 'canary worse').length > 0;
    const load = await paceLoad(gw.url, 200, rolledBack, 6000);
    assert.ok(rolledBack(), `no rollback after ${load.sent} requests`);
    const [worse] = linesOf(gw, 'canary worse');
    assert.equal(worse.metric, 'reset');
    assert.equal(worse.share, 10, 'rolled back at the first step');
    assert.equal(worse.action, 'rollback');
    assert.match(String(worse.baseline_figure), /^0\/\d+ \(0\.00%\)$/);
    const failed = load.sent - (load.statuses[200] ?? 0);
    assert.ok(failed > 0, 'the resets reached the clients (no retry hid them)');
    assert.ok(failed < load.sent / 100, `${failed} of ${load.sent} failed`);
    await until(() => linesOf(gw, 'canary action').some((l) => l.action === 'rollback'), 'the rollback');

    // From the rollback on, the canary gets nothing.
    const before = next.received;
    const quiet = await paceLoad(gw.url, 200, () => false, 100);
    assert.equal(quiet.bodies.stable, 100);
    assert.equal(next.received, before);

    const [status] = gw.gateway.canaries();
    assert.equal(status.route, 'api');
    assert.equal(status.phase, 'rolled_back');
    assert.equal(status.share, 0);
    assert.equal(status.failed_metric, 'reset');
    assert.match(String(status.reason), /^reset worse on the canary: \d+\/\d+ \(.*\) against 0\/\d+ /);
    // The deploy timeline: its start, its step and its rollback with the why.
    const events = canaryEvents(gw);
    assert.deepEqual(
      events.map((e) => [e.action, e.weight]),
      [
        ['start', 0],
        ['step', 10],
        ['rollback', 0],
      ],
    );
    assert.equal(events[2].reason, status.reason);
    // The share moved as an operator's split change would, named for the controller.
    const splits = gw.gateway.timeline.ring.list().filter((e) => e.kind === 'admin');
    assert.deepEqual(
      splits.map((e) => e.who),
      ['canary of api', 'canary of api'],
    );
    const metrics = await scrape(gw);
    assert.match(metrics, /candor_canary_share_percent\{route="api",upstream="next"\} 0\n/);
    assert.match(metrics, /candor_canary_share_percent\{route="api",upstream="stable"\} 100\n/);
    assert.match(metrics, /candor_canary_verdicts_total\{route="api",verdict="worse",metric="reset"\} 1\n/);
  } finally {
    await gw.close();
  }
});

test('a canary whose upstream is down from the start is rolled back at its first step, its figures in the log, the status and the metrics', async () => {
  const down = `http://127.0.0.1:${await freePort()}`;
  const gw = await startGatewayFromText(
    canaryConfig('steps: [10, 30], step_interval: 1s, min_requests: 30').replace(
      `url: ${next.url}`,
      `url: ${down}`,
    ),
  );
  try {
    const rolledBack = () => linesOf(gw, 'canary worse').length > 0;
    const load = await paceLoad(gw.url, 200, rolledBack, 6000);
    assert.ok(rolledBack(), `no rollback after ${load.sent} requests`);
    const [worse] = linesOf(gw, 'canary worse');
    assert.equal(worse.share, 10, 'rolled back at the first step');
    // Refused connections, then (its target ejected) the gateway's 503s for want of a target.
    assert.ok(['unreachable', 'gateway'].includes(String(worse.metric)), String(worse.metric));
    assert.match(String(worse.baseline_figure), /^0\/\d+ \(0\.00%\)$/);
    const [status] = gw.gateway.canaries();
    assert.equal(status.phase, 'rolled_back');
    assert.equal(status.share, 0);
    assert.equal(status.failed_metric, worse.metric);
    const quiet = await paceLoad(gw.url, 200, () => false, 100);
    assert.deepEqual(
      quiet.statuses,
      { 200: 100 },
      'from the rollback on, every request goes to the baseline',
    );
    const metrics = await scrape(gw);
    assert.match(metrics, /candor_canary_share_percent\{route="api",upstream="next"\} 0\n/);
    assert.match(
      metrics,
      new RegExp(
        `candor_canary_verdicts_total\\{route="api",verdict="worse",metric="${worse.metric}"\\} 1\n`,
      ),
    );
  } finally {
    await gw.close();
  }
});

test('a canary still short of min_requests at max_duration fails: on_failure (rollback), the reason naming the counts', async () => {
  const gw = await startCanaryLibrary(
    'steps: [10, 30], step_interval: 1s, min_requests: 1000, max_duration: 2s',
  );
  try {
    const failed = () => linesOf(gw, 'canary action').some((l) => l.action === 'rollback');
    await paceLoad(gw.url, 50, failed, 2000);
    await until(failed, 'the rollback at max_duration');
    const [line] = linesOf(gw, 'canary worse');
    assert.equal(line.metric, 'max_duration');
    assert.match(
      String(line.reason),
      /^too few requests to judge within max_duration \(\d+ canary, \d+ baseline, 1000 needed\)$/,
    );
    const [status] = gw.gateway.canaries();
    assert.equal(status.phase, 'rolled_back');
    assert.equal(status.share, 0);
    assert.equal(status.failed_metric, 'max_duration');
  } finally {
    await gw.close();
  }
});

test("a canary's share set by hand pauses it at that share: its status tells what requests get, and no step moves it", async () => {
  const gw = await startCanaryLibrary('steps: [10, 30], step_interval: 1s, min_requests: 20');
  try {
    await until(() => linesOf(gw, 'canary step').length > 0, 'the first step');
    gw.gateway.apply({
      kind: 'split',
      route: 'api',
      sides: [
        { upstream: 'next', weight: 1 },
        { upstream: 'stable', weight: 3 },
      ],
    });
    await until(() => gw.gateway.canaries()[0].phase === 'paused', 'the pause');
    const [paused] = gw.gateway.canaries();
    assert.equal(paused.share, 25, 'the share requests get (it said 10)');
    assert.equal(paused.reason, 'share set by hand to 25% by program');
    const [line] = linesOf(gw, 'canary action').filter((l) => l.action === 'pause');
    assert.equal(line.who, 'program');
    assert.equal(line.share, 25);
    // Steps of 1 s: past two of them with requests enough, the controller moved nothing.
    const load = await paceLoad(gw.url, 200, () => false, 500);
    assert.ok((load.bodies.next ?? 0) > 50 && (load.bodies.stable ?? 0) > 250, JSON.stringify(load.bodies));
    assert.equal(linesOf(gw, 'canary step').length, 1);
    assert.equal(gw.gateway.canaries()[0].share, 25);
    // After a rollback, a share by hand is what the status says too, not "rolled back at 0 %".
    await gw.gateway.canary('api', 'rollback', 'tester');
    // The rollback left next 0, stable 100: naming next alone weighs it against those 100.
    gw.gateway.apply({ kind: 'split', route: 'api', sides: [{ upstream: 'next', weight: 100 }] });
    await until(() => gw.gateway.canaries()[0].phase === 'paused', 'the pause after the rollback');
    assert.equal(gw.gateway.canaries()[0].share, 50);
  } finally {
    await gw.close();
  }
});

test('a library gateway promotes a healthy canary: then every request goes to it', async () => {
  const gw = await startCanaryLibrary('steps: [10, 30], step_interval: 1s, min_requests: 30');
  try {
    const promoted = () => linesOf(gw, 'canary action').some((l) => l.action === 'promote');
    const load = await paceLoad(gw.url, 200, promoted, 8000);
    assert.ok(promoted(), `not promoted after ${load.sent} requests`);
    assert.equal(load.statuses[200], load.sent);
    assert.deepEqual(linesOf(gw, 'canary worse'), []);
    assert.equal(linesOf(gw, 'canary step passed').length, 2);
    const [status] = gw.gateway.canaries();
    assert.equal(status.phase, 'promoted');
    assert.equal(status.share, 100);
    assert.equal(status.reason, 'passed every step');
    const before = stable.received;
    const after = await paceLoad(gw.url, 200, () => false, 100);
    assert.equal(after.bodies.next, 100);
    assert.equal(stable.received, before);
    assert.deepEqual(
      canaryEvents(gw).map((e) => [e.action, e.weight]),
      [
        ['start', 0],
        ['step', 10],
        ['step', 30],
        ['promote', 100],
      ],
    );
    const metrics = await scrape(gw);
    assert.match(metrics, /candor_canary_share_percent\{route="api",upstream="next"\} 100\n/);
    assert.match(metrics, /candor_canary_verdicts_total\{route="api",verdict="pass",metric=""\} 2\n/);
  } finally {
    await gw.close();
  }
});

test("the operator's actions on a library gateway's canary: pause, start, abort, promote, each logged with who", async () => {
  // Steps a minute long: nothing but the operator moves the canary during the test.
  const gw = await startCanaryLibrary('steps: [10, 30], step_interval: 1m, min_requests: 30');
  try {
    await until(() => linesOf(gw, 'canary step').length > 0, 'the first step');
    const act = async (action: 'start' | 'pause' | 'abort' | 'promote', who?: string) => {
      const result = await gw.gateway.canary('api', action, who);
      assert.ok('status' in result, `${action}: ${JSON.stringify(result)}`);
      return result.status;
    };
    const paused = await act('pause', 'ops console alice');
    assert.equal(paused.phase, 'paused');
    assert.equal(paused.share, 10, 'a pause keeps the share');
    assert.equal(paused.reason, 'paused by ops console alice');
    assert.deepEqual(await gw.gateway.canary('api', 'pause'), {
      problem: 'the canary of route "api" is not running (paused)',
    });
    const resumed = await act('start');
    assert.equal(resumed.phase, 'running');
    assert.equal(resumed.step, 1, 'on from the step it paused at');
    const aborted = await act('abort');
    assert.equal(aborted.phase, 'rolled_back');
    assert.equal(aborted.share, 0);
    assert.equal(aborted.reason, 'rolled back by program', 'abort is the rollback action by its other name');
    // The rollback is in force at once.
    const before = next.received;
    const quiet = await paceLoad(gw.url, 200, () => false, 50);
    assert.equal(quiet.bodies.stable, 50);
    assert.equal(next.received, before);
    const promoted = await act('promote');
    assert.equal(promoted.phase, 'promoted');
    assert.equal(promoted.share, 100);
    const all = await paceLoad(gw.url, 200, () => false, 50);
    assert.equal(all.bodies.next, 50);
    assert.deepEqual(await gw.gateway.canary('other', 'abort'), { problem: 'route "other" has no canary' });

    const actions = linesOf(gw, 'canary action').map((l) => [l.action, l.who]);
    assert.deepEqual(actions, [
      ['start', 'config'],
      ['pause', 'ops console alice'],
      ['start', 'program'],
      ['rollback', 'program'],
      ['promote', 'program'],
    ]);
    assert.deepEqual(
      canaryEvents(gw).map((e) => [e.action, e.weight]),
      [
        ['start', 0],
        ['step', 10],
        ['pause', 10],
        ['start', 10],
        ['rollback', 0],
        ['promote', 100],
      ],
    );
    assert.deepEqual(
      gw.gateway.canaries()[0].actions.map((a) => a.action),
      ['start', 'pause', 'start', 'rollback', 'promote'],
    );
    const metrics = await scrape(gw);
    assert.match(metrics, /candor_canary_share_percent\{route="api",upstream="next"\} 100\n/);
  } finally {
    await gw.close();
  }
});

test('a reload that removes the canary stops it and takes its share off the metrics; one that brings it back starts it again', async () => {
  const gw = await startCanaryLibrary('steps: [10, 30], step_interval: 1m, min_requests: 30');
  try {
    await until(() => linesOf(gw, 'canary step').length > 0, 'the first step');
    const without = parseConfig(
      `name: library-edge
listen:
  - address: 127.0.0.1:0
metrics: { listen: "127.0.0.1:0" }
routes:
  - name: api
    match: { path: / }
    upstream: stable
upstreams:
  stable:
    targets:
      - url: ${stable.url}
`,
      '<test>',
    );
    const shares = async () =>
      (await scrape(gw)).split('\n').filter((line) => line.startsWith('candor_canary_share_percent'));
    assert.deepEqual(await shares(), [
      'candor_canary_share_percent{route="api",upstream="next"} 10',
      'candor_canary_share_percent{route="api",upstream="stable"} 90',
    ]);
    await gw.gateway.reload(without);
    assert.deepEqual(gw.gateway.canaries(), []);
    assert.deepEqual(await shares(), [], 'no share shown for a canary that is gone (it said 10 %)');
    assert.deepEqual(await gw.gateway.canary('api', 'promote'), { problem: 'route "api" has no canary' });
    await gw.gateway.reload(parseConfig(canaryConfig('steps: [20, 50], step_interval: 1m'), '<test>'));
    await until(() => gw.gateway.canaries()[0]?.share === 20, 'the first step of the canary back');
    const [back] = gw.gateway.canaries();
    assert.equal(back.phase, 'running');
    assert.equal(back.step, 1);
    const load = await paceLoad(gw.url, 200, () => false, 200);
    assert.ok((load.bodies.next ?? 0) > 0, 'the canary has its share again');
  } finally {
    await gw.close();
  }
});

test('two library gateways on one Redis judge one canary: requests through B, one verdict for both', async () => {
  await withFleet('steps: [10, 30], step_interval: 1s, min_requests: 100', async (a, b) => {
    assert.deepEqual(linesOf(b, 'canary step'), [], 'B joined the canary under way: it did not start one');
    next.resetEvery = 20;
    const worse = () => [...linesOf(a, 'canary worse'), ...linesOf(b, 'canary worse')].length > 0;
    const load = await paceLoad(b.url, 200, worse, 8000);
    assert.ok(worse(), `no rollback after ${load.sent} requests through B`);
    const verdicts = [...linesOf(a, 'canary worse'), ...linesOf(b, 'canary worse')];
    assert.equal(verdicts.length, 1, 'one gateway judged');
    assert.equal(verdicts[0].metric, 'reset');
    // Both end rolled back: the one that judged, and the other by adopting its state.
    await until(
      () =>
        a.gateway.canaries()[0]?.phase === 'rolled_back' && b.gateway.canaries()[0]?.phase === 'rolled_back',
      'both gateways rolled back',
    );
    assert.equal(a.gateway.canaries()[0].share, 0);
    assert.equal(b.gateway.canaries()[0].share, 0);
    const before = next.received;
    const quiet = await paceLoad(b.url, 200, () => false, 100);
    assert.equal(quiet.bodies.stable, 100);
    assert.equal(next.received, before, 'B sends the canary nothing after the fleet rolled it back');
  });
});

test('in a fleet the gateway an operator acted on follows the fleet after: a rollback on A, a start on B, both run again', async () => {
  // Never judged (too few requests): only the operators move it.
  await withFleet('steps: [10, 30], step_interval: 1s, min_requests: 100000', async (a, b) => {
    await a.gateway.canary('api', 'rollback', 'op-a');
    await until(() => b.gateway.canaries()[0]?.phase === 'rolled_back', "B following A's rollback");
    await b.gateway.canary('api', 'start', 'op-b');
    // A stopped looking at the fleet once its operator acted: it stayed rolled back at 0 %.
    // Its status tells the share its workers have: running at 0 % for the moment they take B's.
    await until(
      () =>
        a.gateway.canaries()[0]?.phase === 'running' &&
        a.gateway.canaries()[0].share === b.gateway.canaries()[0]?.share,
      "A following B's start, at B's share",
    );
    assert.ok(a.gateway.canaries()[0].share > 0);
  });
});

test('library gateways with store.redis: a reload that adds the canary joins the fleet as a start does; one that removes it closes the fleet', async () => {
  const redis: RedisProcess = await startRedis();
  const store = `store:\n  redis: { url: "${redis.url}", timeout: 2s }\n`;
  const canary = 'steps: [10, 30], step_interval: 1s, min_requests: 100';
  // Both upstreams, the route on the baseline alone: no canary yet.
  const plain = canaryConfig(canary, store).replace(/\n {4}canary: \{[^\n]*\}/, '');
  assert.doesNotMatch(plain, /canary:/);
  stable.resetEvery = 0;
  next.resetEvery = 0;
  const a = await startGatewayFromText(plain);
  let b: TestGateway | undefined;
  try {
    b = await startGatewayFromText(plain);
    const gwB = b;
    await untilFleetClients(redis, 0);
    await a.gateway.reload(parseConfig(canaryConfig(canary, store), '<test>'));
    await until(() => linesOf(a, 'canary step').length > 0, "A's first step");
    await untilFleetClients(redis, 1);
    await gwB.gateway.reload(parseConfig(canaryConfig(canary, store), '<test>'));
    await until(() => linesOf(gwB, 'canary adopted from the fleet').length > 0, 'B joining the canary');
    assert.deepEqual(linesOf(gwB, 'canary step'), [], 'B joined the canary under way: it did not start one');
    await untilFleetClients(redis, 2);
    // The fleet's counts judge it: requests through B alone, one verdict for both.
    next.resetEvery = 20;
    const worse = () => [...linesOf(a, 'canary worse'), ...linesOf(gwB, 'canary worse')].length > 0;
    const load = await paceLoad(gwB.url, 200, worse, 8000);
    assert.ok(worse(), `no rollback after ${load.sent} requests through B`);
    assert.equal(
      [...linesOf(a, 'canary worse'), ...linesOf(gwB, 'canary worse')].length,
      1,
      'one gateway judged',
    );
    await until(
      () =>
        a.gateway.canaries()[0]?.phase === 'rolled_back' &&
        gwB.gateway.canaries()[0]?.phase === 'rolled_back',
      'both gateways rolled back',
    );
    // The last canary gone: each gateway closes its fleet's client, the store stays.
    await a.gateway.reload(parseConfig(plain, '<test>'));
    await gwB.gateway.reload(parseConfig(plain, '<test>'));
    assert.deepEqual(a.gateway.canaries(), []);
    assert.deepEqual(gwB.gateway.canaries(), []);
    await untilFleetClients(redis, 0);
  } finally {
    await b?.close();
    await a.close();
    await redis.kill();
  }
});
