/**
 * A split's (or canary's) side and the ring of `balancer: hash` on the same key: the side's
 * point on the weights' line must not be the key's place on the ring, or a side's keys are one
 * arc of it and go to the few targets that own that arc. Before, with `hash_key: header:x-user`
 * on the route and on the canary's upstream of two targets, a 1 % canary sent every one of its
 * users to one target (through `candor serve`: 60 and 0 of its 60 in one run, 51 and 9 in
 * another); the other was never judged, and took half the users untried at the promotion.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TargetConfig } from '../../../src/core/config/types.ts';
import { canarySides, RouteSplit } from '../../../src/proxy/select/split.ts';
import { createBalancer, TargetState } from '../../../src/upstream/targets/balancer.ts';

const target = (origin: string): TargetState =>
  new TargetState({
    url: origin,
    protocol: 'http:',
    hostname: origin,
    port: 80,
    origin,
    weight: 1,
  } as TargetConfig);

test("a canary's users, placed by their key, spread over its targets hashed on that key as anyone's do", () => {
  // The ring hangs on the targets' origins: twenty pairs of them, each judged alone.
  const spreads: string[] = [];
  for (let port = 8000; port < 8020; port++) {
    const targets = [`http://10.0.0.1:${port}`, `http://10.0.0.2:${port}`].map(target);
    const ring = createBalancer('hash', targets);
    for (const share of [1, 5]) {
      const split = new RouteSplit(canarySides('stable', 'next', share), { kind: 'header', name: 'x-user' });
      let onFirst = 0;
      let canaryKeys = 0;
      for (let i = 0; i < 40_000; i++) {
        const key = `user-${i}`;
        if (split.choose(key) !== 'next') continue;
        canaryKeys++;
        if (ring.pick(1_000_000, undefined, key) === targets[0]) onFirst++;
      }
      assert.ok(
        Math.abs(canaryKeys / 40_000 - share / 100) < share / 400,
        `${share} %: ${canaryKeys} keys on the canary`,
      );
      // The ring spreads any keys over two targets within about ±15 %: each gets a third at least.
      const fewer = Math.min(onFirst, canaryKeys - onFirst);
      if (fewer < canaryKeys / 3) spreads.push(`:${port} at ${share} %: ${onFirst}/${canaryKeys - onFirst}`);
    }
  }
  assert.deepEqual(spreads, [], "the canary's users on its two targets, where one had under a third");
});

test('one key, one side, every time, and a canary user stays on it while its share grows', () => {
  const split = new RouteSplit(canarySides('stable', 'next', 5), { kind: 'header', name: 'x-user' });
  const keys = Array.from({ length: 5000 }, (_, i) => `user-${i}`);
  const at5 = keys.filter((k) => split.choose(k) === 'next');
  for (const k of at5.slice(0, 50)) assert.equal(split.choose(k), 'next');
  split.set(canarySides('stable', 'next', 50));
  for (const k of at5) assert.equal(split.choose(k), 'next', `${k} left the canary at 50 %`);
});
