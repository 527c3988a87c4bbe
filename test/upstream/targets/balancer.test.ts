import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TargetConfig } from '../../../src/core/config/types.ts';
import { createBalancer, TargetState } from '../../../src/upstream/targets/balancer.ts';

const target = (name: string, weight = 1): TargetState =>
  new TargetState({
    url: name,
    protocol: 'http:',
    hostname: name,
    port: 80,
    origin: name,
    weight,
  } as TargetConfig);
const NOW = 1_000_000;

test('round robin spreads by weight, smoothly', () => {
  const balancer = createBalancer('round_robin', [target('a', 3), target('b', 1)]);
  const picks = Array.from({ length: 8 }, () => balancer.pick(NOW)?.config.url).join('');
  assert.equal(picks, 'aabaaaba', 'b is spread between the a picks, not bunched at the end');
});

test('least connections picks the target with the fewest in flight, relative to weight', () => {
  const targets = [target('a'), target('b'), target('c', 2)];
  const balancer = createBalancer('least_conn', targets);
  const hold = (t: TargetState, n: number) => Array.from({ length: n }, () => t.active.acquire());
  hold(targets[0], 2);
  hold(targets[1], 1);
  const onC = hold(targets[2], 3);
  assert.equal(balancer.pick(NOW)?.config.url, 'b');
  onC[0]();
  onC[1]();
  assert.equal(balancer.pick(NOW)?.config.url, 'c', '(1+1)/2 beats (1+1)/1');
});

test('every balancer spreads evenly over equal idle targets', () => {
  for (const kind of ['round_robin', 'least_conn'] as const) {
    const balancer = createBalancer(kind, [target('a'), target('b'), target('c')]);
    const counts = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const url = balancer.pick(NOW)?.config.url ?? '';
      counts.set(url, (counts.get(url) ?? 0) + 1);
    }
    assert.deepEqual([...counts.values()], [100, 100, 100], kind);
  }
});

test('every balancer skips targets out of rotation, and prefers ones not tried yet', () => {
  for (const kind of ['round_robin', 'least_conn'] as const) {
    const [a, b, c] = [target('a'), target('b'), target('c')];
    const balancer = createBalancer(kind, [a, b, c]);
    a.checkedHealthy = false;
    b.ejectedUntil = NOW + 5_000;
    for (let i = 0; i < 10; i++) assert.equal(balancer.pick(NOW), c, kind);
    c.checkedHealthy = false;
    assert.equal(balancer.pick(NOW), undefined, `${kind}: nothing in rotation`);
    c.checkedHealthy = true;
    a.checkedHealthy = true;
    assert.equal(balancer.pick(NOW, [c]), a, `${kind}: the untried target first`);
    const again = balancer.pick(NOW, [a, c]);
    assert.ok(
      again === a || again === c,
      `${kind}: a tried one when nothing else is left, never the ejected b`,
    );
  }
});

test('a half-open target takes only as many requests as probes allowed', () => {
  const [a, b] = [target('a'), target('b')];
  const balancer = createBalancer('round_robin', [a, b], { slowStart: 0, halfOpenProbes: 1 });
  a.ejectedUntil = NOW - 1;
  const probe = a.probes.acquire();
  for (let i = 0; i < 5; i++) assert.equal(balancer.pick(NOW), b);
  probe();
  const picks = Array.from({ length: 4 }, () => balancer.pick(NOW));
  assert.ok(picks.includes(a), 'a takes its probe');
});

test('slow start: a target back in rotation gets a share that grows over the window', () => {
  const [a, b] = [target('a'), target('b')];
  const balancer = createBalancer('round_robin', [a, b], { slowStart: 10_000, halfOpenProbes: 1 });
  b.inRotationSince = NOW;
  const share = (now: number) => {
    let count = 0;
    for (let i = 0; i < 1000; i++) if (balancer.pick(now) === b) count++;
    return count / 1000;
  };
  const early = share(NOW + 1_000);
  const middle = share(NOW + 5_000);
  const done = share(NOW + 10_000);
  assert.ok(early < 0.12, `10% of its weight at first: ${early}`);
  assert.ok(middle > 0.3 && middle < 0.36, `half its weight half way: ${middle}`);
  assert.equal(done, 0.5, 'its full share at the end of the window');
});
