import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TargetConfig } from '../../src/config/types.ts';
import { createBalancer, type TargetState } from '../../src/select/balancer.ts';

const target = (name: string, weight = 1): TargetState => ({
  config: { url: name, protocol: 'http:', hostname: name, port: 80, origin: name, weight } as TargetConfig,
  active: 0,
});

test('round robin spreads by weight, smoothly', () => {
  const targets = [target('a', 3), target('b', 1)];
  const balancer = createBalancer('round_robin', targets);
  const picks = Array.from({ length: 8 }, () => balancer.pick()?.config.url).join('');
  assert.equal(picks, 'aabaaaba', 'b is spread between the a picks, not bunched at the end');
});

test('least connections picks the target with the fewest in flight, relative to weight', () => {
  const targets = [target('a'), target('b'), target('c', 2)];
  const balancer = createBalancer('least_conn', targets);
  targets[0].active = 2;
  targets[1].active = 1;
  targets[2].active = 3;
  assert.equal(balancer.pick()?.config.url, 'b');
  targets[2].active = 1;
  assert.equal(balancer.pick()?.config.url, 'c', '1/2 beats 1/1');
});

test('every balancer spreads evenly over equal idle targets', () => {
  for (const kind of ['round_robin', 'least_conn'] as const) {
    const targets = [target('a'), target('b'), target('c')];
    const balancer = createBalancer(kind, targets);
    const counts = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const url = balancer.pick()?.config.url ?? '';
      counts.set(url, (counts.get(url) ?? 0) + 1);
    }
    assert.deepEqual([...counts.values()], [100, 100, 100], kind);
  }
});
