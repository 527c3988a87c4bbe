import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TargetConfig } from '../../../src/core/config/types.ts';
import { BALANCER_KINDS, createBalancer, TargetState } from '../../../src/upstream/targets/balancer.ts';

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
  assert.equal(balancer.pick(NOW)?.config.url, 'c', '1/2 beats 1/1');
});

// ── the contract every balancer keeps (one suite, run against each kind) ──────────

test('every balancer spreads over equal idle targets (requests with different keys)', () => {
  for (const kind of BALANCER_KINDS) {
    const balancer = createBalancer(kind, [target('a'), target('b'), target('c')]);
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const url = balancer.pick(NOW, undefined, `client-${i}`)?.config.url ?? '';
      counts.set(url, (counts.get(url) ?? 0) + 1);
    }
    assert.equal(counts.size, 3, kind);
    // Round robin and least connections split exactly; a hash ring of 160 points a target within ±15%.
    for (const [url, n] of counts) assert.ok(n >= 850 && n <= 1150, `${kind}: ${url} got ${n} of 3000`);
  }
});

test('every balancer skips targets out of rotation, and prefers ones not tried yet', () => {
  for (const kind of BALANCER_KINDS) {
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

test('every balancer tells what is in rotation without picking: empty exactly when a pick finds none', () => {
  for (const kind of BALANCER_KINDS) {
    const [a, b] = [target('a'), target('b')];
    const balancer = createBalancer(kind, [a, b]);
    a.ejectedUntil = NOW + 5_000;
    assert.deepEqual(balancer.inRotation(NOW), [b], kind);
    b.checkedHealthy = false;
    assert.deepEqual(balancer.inRotation(NOW), [], kind);
    assert.equal(balancer.pick(NOW), undefined, kind);
    // A half-open target with its probe slot free is in rotation; asking takes no slot.
    a.ejectedUntil = NOW - 1;
    assert.deepEqual(balancer.inRotation(NOW), [a], kind);
    assert.equal(a.probes.count, 0, `${kind}: no probe slot taken`);
    // Asked, round robin spends no credit: its picks go on as they would have.
    b.checkedHealthy = true;
    a.ejectedUntil = 0;
    const first = balancer.pick(NOW, undefined, 'k');
    balancer.inRotation(NOW);
    balancer.inRotation(NOW);
    assert.notEqual(balancer.pick(NOW, undefined, 'j'), kind === 'hash' ? undefined : first, kind);
  }
});

test('every balancer gives a half-open target only as many requests as probes allowed', () => {
  for (const kind of BALANCER_KINDS) {
    const [a, b] = [target('a'), target('b')];
    const balancer = createBalancer(kind, [a, b], { slowStart: 0, halfOpenProbes: 1 });
    a.ejectedUntil = NOW - 1;
    const probe = a.probes.acquire();
    for (let i = 0; i < 20; i++) assert.equal(balancer.pick(NOW, undefined, `k${i}`), b, kind);
    probe();
    const picks = Array.from({ length: 20 }, (_, i) => balancer.pick(NOW, undefined, `k${i}`));
    assert.ok(picks.includes(a), `${kind}: a takes its probe`);
  }
});

test('every balancer answers nothing when no target is in rotation, and the operator’s weight 0 is out', () => {
  for (const kind of BALANCER_KINDS) {
    const [a, b] = [target('a'), target('b')];
    const balancer = createBalancer(kind, [a, b]);
    a.adminWeight = 0;
    for (let i = 0; i < 10; i++) assert.equal(balancer.pick(NOW, undefined, `k${i}`), b, kind);
    b.admin = 'draining';
    assert.equal(balancer.pick(NOW, undefined, 'k'), undefined, kind);
  }
});

// ── each kind's own behaviour ───────────────────────────────────────────────────

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

test('hash: one key, one target, every time; weights respected', () => {
  const balancer = createBalancer('hash', [target('a', 3), target('b', 1)]);
  const first = balancer.pick(NOW, undefined, 'user-42');
  for (let i = 0; i < 10; i++) assert.equal(balancer.pick(NOW, undefined, 'user-42'), first);
  let onA = 0;
  for (let i = 0; i < 4000; i++) if (balancer.pick(NOW, undefined, `user-${i}`)?.config.url === 'a') onA++;
  assert.ok(onA / 4000 > 0.7 && onA / 4000 < 0.8, `a has weight 3 of 4: ${onA / 4000}`);
});

test('hash: a target that leaves moves only the keys it had, out of rotation or out of the config', () => {
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => target(n));
  const keys = Array.from({ length: 2000 }, (_, i) => `session-${i}`);
  const all = createBalancer('hash', [a, b, c, d]);
  const before = keys.map((k) => all.pick(NOW, undefined, k));
  const check = (after: (TargetState | undefined)[], how: string) => {
    let moved = 0;
    keys.forEach((_, i) => {
      if (before[i] === c) {
        assert.notEqual(after[i], c, how);
        moved++;
      } else assert.equal(after[i], before[i], `${how}: a key not on c stays where it was`);
    });
    assert.ok(moved > 350 && moved < 650, `${how}: c had about a quarter of the keys (${moved})`);
  };
  c.checkedHealthy = false;
  check(
    keys.map((k) => all.pick(NOW, undefined, k)),
    'out of rotation',
  );
  assert.equal(all.home?.(keys[before.indexOf(c)]), c, 'home still names the target the key belongs to');
  c.checkedHealthy = true;
  const without = createBalancer('hash', [a, b, d]);
  check(
    keys.map((k) => without.pick(NOW, undefined, k)),
    'gone from the config',
  );
});

test('hash: heavy weights build a bounded ring, still weighted and consistent', () => {
  // 40 targets of weight 1000 asked for 6.4 million points: over a minute of one core and a
  // gigabyte to build before (an SRV answer's weights could ask that of every worker).
  const targets = Array.from({ length: 40 }, (_, i) => target(`t${i}`, i === 0 ? 500 : 1000));
  const balancer = createBalancer('hash', targets);
  const keys = Array.from({ length: 4000 }, (_, i) => `user-${i}`);
  const before = keys.map((k) => balancer.pick(NOW, undefined, k));
  const onHalf = before.filter((t) => t === targets[0]).length / keys.length;
  assert.ok(onHalf > 0.005 && onHalf < 0.02, `weight 500 of 39,500: ${onHalf}`);
  const leaving = targets[7];
  leaving.checkedHealthy = false;
  keys.forEach((k, i) => {
    const after = balancer.pick(NOW, undefined, k);
    if (before[i] === leaving) assert.notEqual(after, leaving);
    else assert.equal(after, before[i], 'a key not on the target that left stays where it was');
  });
  const without = createBalancer(
    'hash',
    targets.filter((t) => t !== leaving),
  );
  let moved = 0;
  keys.forEach((k, i) => {
    if (before[i] !== leaving && without.pick(NOW, undefined, k) !== before[i]) moved++;
  });
  assert.equal(moved, 0, 'gone from the config: the others keep their points, and their keys');
});
