import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TargetConfig } from '../../../src/core/config/types.ts';
import { createBalancer, TargetState } from '../../../src/upstream/targets/balancer.ts';
import { Panic } from '../../../src/upstream/targets/panic.ts';

const target = (name: string): TargetState =>
  new TargetState({ url: name, hostname: name, port: 80, origin: name, weight: 1 } as TargetConfig);

test('panic below the threshold, once per transition; 0 never panics', () => {
  const targets = [target('a'), target('b'), target('c')];
  const panic = new Panic(50);
  assert.equal(panic.update(targets, 1), undefined, 'all passing');
  targets[0].checkedHealthy = false;
  assert.equal(panic.update(targets, 2), undefined, '2 of 3 pass');
  targets[1].checkedHealthy = false;
  assert.equal(panic.update(targets, 3), 'entered', '1 of 3 is below 50%');
  assert.equal(panic.since, 3);
  assert.equal(panic.update(targets, 4), undefined, 'still in panic: no second transition');
  targets[1].checkedHealthy = true;
  assert.equal(panic.update(targets, 5), 'left');
  assert.equal(panic.active, false);

  const never = new Panic(0);
  for (const t of targets) t.checkedHealthy = false;
  assert.equal(never.update(targets, 6), undefined);
  assert.equal(never.active, false);
});

test('in panic the balancer ignores health checks, never an ejection', () => {
  const [a, b, c] = [target('a'), target('b'), target('c')];
  const panic = new Panic(50);
  const balancer = createBalancer('round_robin', [a, b, c], { slowStart: 0, halfOpenProbes: 1, panic });
  for (const t of [a, b, c]) t.checkedHealthy = false;
  c.ejectedUntil = 10_000;
  assert.equal(balancer.pick(1), undefined, 'not yet re-evaluated: the checks still decide');
  panic.update([a, b, c], 1);
  const picks = new Set(Array.from({ length: 6 }, () => balancer.pick(1)?.config.url));
  assert.deepEqual([...picks].sort(), ['a', 'b']);
});

test('when ejections leave no target, the ejected ones take the requests; with panic_threshold 0 none does', () => {
  const [a, b] = [target('a'), target('b')];
  const panic = new Panic(50);
  const balancer = createBalancer('least_conn', [a, b], { slowStart: 0, halfOpenProbes: 1, panic });
  a.ejectedUntil = 10_000;
  assert.equal(balancer.pick(1)?.config.url, 'b', 'one left in rotation: it alone');
  b.ejectedUntil = 10_000;
  const picks = new Set(Array.from({ length: 4 }, () => balancer.pick(1)?.config.url));
  assert.deepEqual([...picks].sort(), ['a', 'b'], 'both ejected: both take requests again');
  b.checkedHealthy = false;
  assert.equal(balancer.pick(1)?.config.url, 'a', 'a target failing its checks stays out');
  a.admin = 'draining';
  assert.equal(balancer.pick(1), undefined, "an operator's drain stays out");
  a.admin = 'enabled';
  panic.threshold = 0;
  assert.equal(balancer.pick(1), undefined, 'panic_threshold: 0 routes to no ejected target');
});
