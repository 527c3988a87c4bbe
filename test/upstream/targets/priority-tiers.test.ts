/**
 * Target priorities (backup tiers), on the balancer itself: every kind picks within the
 * lowest priority that has a target in rotation, goes to the next only when every target of
 * that tier is out, and comes back as soon as one returns. Panic and retries with tiers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TargetConfig } from '../../../src/core/config/types.ts';
import { BALANCER_KINDS, createBalancer, TargetState } from '../../../src/upstream/targets/balancer.ts';
import { Panic } from '../../../src/upstream/targets/panic.ts';

const target = (name: string, priority: number): TargetState =>
  new TargetState({
    url: name,
    protocol: 'http:',
    hostname: name,
    port: 80,
    origin: name,
    weight: 1,
    priority,
  } as TargetConfig);
const NOW = 1_000_000;

/** Who 200 picks (keys differing) went to, as "a:100,b:100". */
function spread(pick: (key: string) => TargetState | undefined): string {
  const counts = new Map<string, number>();
  for (let i = 0; i < 200; i++) {
    const url = pick(`client-${i}`)?.config.url ?? 'none';
    counts.set(url, (counts.get(url) ?? 0) + 1);
  }
  return [...counts.keys()].sort().join(',');
}

test('every balancer picks within the lowest tier in rotation, the backups only when every primary is out', () => {
  for (const kind of BALANCER_KINDS) {
    const [a, b, c, d] = [target('a', 0), target('b', 0), target('c', 1), target('d', 1)];
    // In config order the backups come first: the order of the list is not the priority.
    const balancer = createBalancer(kind, [c, d, a, b]);
    const picks = () => spread((key) => balancer.pick(NOW, undefined, key));
    assert.equal(picks(), 'a,b', `${kind}: both primaries, no backup`);
    assert.deepEqual(balancer.inRotation(NOW), [a, b], kind);
    a.ejectedUntil = NOW + 5_000;
    assert.equal(picks(), 'b', `${kind}: the other primary, still no backup`);
    b.checkedHealthy = false;
    assert.equal(picks(), 'c,d', `${kind}: every primary out: both backups`);
    assert.deepEqual(balancer.inRotation(NOW), [c, d], kind);
    b.checkedHealthy = true;
    assert.equal(picks(), 'b', `${kind}: a primary back: the backups take nothing`);
    b.admin = 'draining';
    c.ejectedUntil = NOW + 5_000;
    assert.equal(picks(), 'd', `${kind}`);
    d.checkedHealthy = false;
    assert.equal(balancer.pick(NOW), undefined, `${kind}: no tier in rotation`);
  }
});

test('a hash key keeps its target within the tier it uses: a backup leaving moves only its own keys', () => {
  const [a, b, c, d, e] = [target('a', 0), target('b', 0), target('c', 1), target('d', 1), target('e', 1)];
  const balancer = createBalancer('hash', [a, b, c, d, e]);
  a.checkedHealthy = false;
  b.checkedHealthy = false;
  const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
  const before = keys.map((k) => balancer.pick(NOW, undefined, k));
  assert.deepEqual(new Set(before), new Set([c, d, e]));
  d.ejectedUntil = NOW + 5_000;
  const after = keys.map((k) => balancer.pick(NOW, undefined, k));
  keys.forEach((_, i) => {
    if (before[i] !== d) assert.equal(after[i], before[i], `key ${i} stays on its backup`);
  });
});

test('a retry goes to the next tier when every target of the tier in use was tried (nginx’s next upstream)', () => {
  for (const kind of BALANCER_KINDS) {
    const [a, b, c] = [target('a', 0), target('b', 0), target('c', 1)];
    const balancer = createBalancer(kind, [a, b, c]);
    assert.equal(balancer.pick(NOW, [a]), b, `${kind}: the untried primary first`);
    assert.equal(balancer.pick(NOW, [a, b]), c, `${kind}: then the backup`);
    const last = balancer.pick(NOW, [a, b, c]);
    assert.ok(last === a || last === b, `${kind}: every one tried: the primaries again`);
  }
});

test('panic with tiers: primaries failing their checks send traffic to healthy backups, not panic', () => {
  const [a, b, c, d] = [target('a', 0), target('b', 0), target('c', 1), target('d', 1)];
  const targets = [a, b, c, d];
  const panic = new Panic(50);
  const balancer = createBalancer('round_robin', targets, { slowStart: 0, halfOpenProbes: 1, panic });
  a.checkedHealthy = false;
  b.checkedHealthy = false;
  assert.equal(panic.update(targets, NOW), undefined, 'the backups all pass: no panic');
  assert.equal(
    spread(() => balancer.pick(NOW)),
    'c,d',
  );

  // One primary of ten passing is below the threshold: that tier gives way to the backups.
  const primaries = Array.from({ length: 10 }, (_, i) => target(`p${i}`, 0));
  for (const p of primaries.slice(1)) p.checkedHealthy = false;
  const [x, y, z] = [target('x', 1), target('y', 1), target('z', 1)];
  const many = [...primaries, x, y, z];
  const panic2 = new Panic(50);
  const balancer2 = createBalancer('round_robin', many, { slowStart: 0, halfOpenProbes: 1, panic: panic2 });
  assert.equal(panic2.update(many, NOW), undefined);
  assert.equal(
    spread(() => balancer2.pick(NOW)),
    'x,y,z',
    'not all on the one passing primary',
  );

  // Every tier below the threshold: panic, over the first tier with a target passing its checks.
  x.checkedHealthy = false;
  z.checkedHealthy = false;
  assert.equal(panic2.update(many, NOW), 'entered');
  assert.equal(
    spread(() => balancer2.pick(NOW)),
    primaries
      .map((p) => p.config.url)
      .sort()
      .join(','),
  );
  primaries[0].checkedHealthy = false;
  assert.equal(panic2.update(many, NOW), undefined, 'still in panic');
  assert.equal(
    spread(() => balancer2.pick(NOW)),
    'x,y,z',
    'the backups’ y passes: their tier, checks ignored',
  );
  y.checkedHealthy = false;
  assert.equal(spread(() => balancer2.pick(NOW)).split(',').length, 10, 'no target passes: the primaries');
});

test('one tier at any priority is the plain balancer, and its fast path returns the targets themselves', () => {
  const targets = [target('a', 3), target('b', 3)];
  const balancer = createBalancer('round_robin', targets);
  assert.equal(balancer.inRotation(NOW), targets, 'no copy made');
  const tiers = [target('a', 0), target('b', 0), target('c', 1)];
  const tiered = createBalancer('round_robin', tiers);
  assert.equal(tiered.inRotation(NOW), tiered.inRotation(NOW), 'the primaries’ list, made once');
});
