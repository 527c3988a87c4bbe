/**
 * A restart keeps a canary's verdict "as a reload does" (docs/canary.md, Limits). A reload that
 * gives the route another baseline begins its canary anew (canary-controller.ts: the run is
 * kept only while its baseline is the one it was judged against); a restart with that config
 * kept the verdict reached against the old baseline: rolled back (or promoted) against a
 * version no longer in place, on a library gateway restarted on the same state_dir.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../../src/index.ts';
import { type CanaryOrigin, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';

let stable: CanaryOrigin;
let next: CanaryOrigin;

before(async () => {
  stable = await startCanaryOrigin('stable');
  next = await startCanaryOrigin('next');
});

after(() => closeAll(stable, next));

/** Route `api` with baseline `baseline` (`stable` or `stable-v2`, both on the stable origin), canary `next`. */
function configText(stateDir: string, baseline: string): string {
  return `name: restart-edge
state_dir: ${stateDir}
listen:
  - address: 127.0.0.1:0
routes:
  - name: api
    match: { path: / }
    upstream: ${baseline}
    canary: { upstream: next, steps: [10, 30], step_interval: 1h, max_duration: 3h, min_requests: 100000 }
upstreams:
  stable:
    targets:
      - url: ${stable.url}
  stable-v2:
    targets:
      - url: ${stable.url}
  next:
    targets:
      - url: ${next.url}
`;
}

async function until(done: () => boolean, what: string): Promise<void> {
  for (let tries = 0; tries < 400 && !done(); tries++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(done(), `never: ${what}`);
}

async function rolledBackAgainstStable(stateDir: string): Promise<TestGateway> {
  const gw = await startGatewayFromText(configText(stateDir, 'stable'));
  await until(() => gw.gateway.canaries()[0]?.share === 10, 'the first step');
  const acted = await gw.gateway.canary('api', 'rollback', 'op');
  assert.ok('status' in acted, JSON.stringify(acted));
  assert.equal(acted.status.phase, 'rolled_back');
  return gw;
}

test('a reload that gives the route another baseline begins its canary anew', async () => {
  const gw = await rolledBackAgainstStable(tempDir('candor-new-baseline-'));
  try {
    await gw.gateway.reload(parseConfig(configText(tempDir('candor-new-baseline-'), 'stable-v2'), '<test>'));
    await until(() => gw.gateway.canaries()[0]?.phase === 'running', 'running again');
    assert.deepEqual([gw.gateway.canaries()[0].share, gw.gateway.canaries()[0].step], [10, 1]);
  } finally {
    await gw.close();
  }
});

test('a restart whose config gives the route another baseline begins its canary anew, as a reload does', async () => {
  const stateDir = tempDir('candor-new-baseline-');
  const first = await rolledBackAgainstStable(stateDir);
  await first.close();
  // The same baseline: the verdict stands.
  const same = await startGatewayFromText(configText(stateDir, 'stable'));
  try {
    await until(() => same.logs.some((l) => l.msg === 'canary verdict kept from before the restart'), 'kept');
    assert.deepEqual(
      [same.gateway.canaries()[0].phase, same.gateway.canaries()[0].share],
      ['rolled_back', 0],
    );
  } finally {
    await same.close();
  }
  const other = await startGatewayFromText(configText(stateDir, 'stable-v2'));
  try {
    await until(() => other.gateway.canaries()[0]?.share === 10, 'the first step against the new baseline');
    const [canary] = other.gateway.canaries();
    assert.deepEqual([canary.phase, canary.step, canary.baseline], ['running', 1, 'stable-v2']);
    assert.ok(!other.logs.some((l) => l.msg === 'canary verdict kept from before the restart'));
  } finally {
    await other.close();
  }
});
