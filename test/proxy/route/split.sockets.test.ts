/**
 * routes[].split on real sockets (issue 36, item 1): each request goes to one side by weight,
 * and with a hash_key one user stays on one side; what each upstream received is counted.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { canarySides, RouteSplit } from '../../../src/proxy/select/split.ts';
import { CanaryWindow } from '../../../src/upstream/canary/canary-window.ts';
import { type CanaryOrigin, paceLoad, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

let blue: CanaryOrigin;
let green: CanaryOrigin;

before(async () => {
  blue = await startCanaryOrigin('blue');
  green = await startCanaryOrigin('green');
});
after(() => closeAll(blue, green));

const config = (extra = '', blueWeight = 1, greenWeight = 3) => `name: edge-1
routes:
  - name: shop
    match: { path: / }
    split:
      - { upstream: blue, weight: ${blueWeight} }
      - { upstream: green, weight: ${greenWeight} }
${extra}
upstreams:
  blue:
    targets:
      - url: ${blue.url}
  green:
    targets:
      - url: ${green.url}
`;

test('a split sends each request to one side by weight, and the log names the side', async () => {
  const gw: TestGateway = await startTestGateway(config());
  try {
    const before = { blue: blue.received, green: green.received };
    const seen = await paceLoad(gw.url, 400, () => false, 400);
    assert.equal(seen.statuses[200], 400);
    const toBlue = blue.received - before.blue;
    const toGreen = green.received - before.green;
    assert.equal(toBlue + toGreen, 400, 'every request went to one side, once');
    assert.equal(seen.bodies.blue, toBlue);
    // Weights 1:3 → a quarter to blue; 400 draws put it within 60–140 but for a 1-in-10⁷ chance.
    assert.ok(toBlue > 60 && toBlue < 140, `blue took ${toBlue} of 400`);
    const line = await gw.accessLine(1);
    assert.ok(line.upstream === 'blue' || line.upstream === 'green');
    assert.equal(line.route, 'shop');
  } finally {
    await gw.close();
  }
});

test('a weight of 0 sends that side nothing', async () => {
  const gw = await startTestGateway(config('', 0, 5));
  try {
    const before = blue.received;
    const seen = await paceLoad(gw.url, 400, () => false, 100);
    assert.equal(seen.bodies.green, 100);
    assert.equal(blue.received - before, 0);
  } finally {
    await gw.close();
  }
});

test('with hash_key one user stays on one side, and the users spread over both', async () => {
  const gw = await startTestGateway(config('    hash_key: header:X-User', 1, 1));
  try {
    const sideOf = new Map<string, Set<string>>();
    for (let user = 0; user < 60; user++)
      for (let i = 0; i < 3; i++) {
        const res = await request(gw.url, { path: '/', headers: { 'x-user': `user-${user}` } });
        assert.equal(res.status, 200);
        const sides = sideOf.get(`user-${user}`) ?? new Set<string>();
        sides.add(res.text);
        sideOf.set(`user-${user}`, sides);
      }
    for (const [user, sides] of sideOf)
      assert.equal(sides.size, 1, `${user} saw ${[...sides].join(' and ')}`);
    const onBlue = [...sideOf.values()].filter((s) => s.has('blue')).length;
    // 60 users at 1:1: both sides get some (all on one side is a 1-in-10¹⁷ chance).
    assert.ok(onBlue > 10 && onBlue < 50, `${onBlue} of 60 users on blue`);
  } finally {
    await gw.close();
  }
});

// Host is one host in any case, with a trailing dot or a port, as match.host reads it: keyed
// as sent, each spelling of a site hashed apart and its users were spread over both sides.
test('with hash_key header:Host every spelling of one host stays on one side', async () => {
  const gw = await startTestGateway(config('    hash_key: header:Host', 1, 1));
  try {
    for (let site = 0; site < 8; site++) {
      const host = `site-${site}.example`;
      const sides = new Set<string>();
      for (const spelling of [
        host,
        host.toUpperCase(),
        `${host}.`,
        `${host}:80`,
        `${host.toUpperCase()}.:81`,
      ]) {
        const res = await request(gw.url, { path: '/', headers: { host: spelling } });
        assert.equal(res.status, 200, spelling);
        sides.add(res.text);
      }
      assert.equal(sides.size, 1, `${host}'s spellings saw ${[...sides].join(' and ')}`);
    }
  } finally {
    await gw.close();
  }
});

test('a canary route keeps its users on the canary while its share grows (the canary is the first side)', () => {
  const split = new RouteSplit(canarySides('stable', 'next', 10), { kind: 'client' });
  const users = Array.from({ length: 2000 }, (_, i) => `user-${i}`);
  const onCanary = (percent: number) => {
    split.set(canarySides('stable', 'next', percent));
    return new Set(users.filter((u) => split.choose(u) === 'next'));
  };
  const at10 = onCanary(10);
  const at30 = onCanary(30);
  for (const user of at10) assert.ok(at30.has(user), `${user} left the canary when it grew`);
  // 2000 users: about 200 and 600, well inside these bounds.
  assert.ok(at10.size > 120 && at10.size < 280, `${at10.size} at 10 %`);
  assert.ok(at30.size > 480 && at30.size < 720, `${at30.size} at 30 %`);
  assert.equal(onCanary(0).size, 0, 'rolled back: nobody');
  assert.equal(onCanary(100).size, users.length, 'promoted: everybody');
});

test("a draw makes nothing per request: each side is handed out as the one object made with the split, the canary's counts with it", () => {
  const window = new CanaryWindow('stable', 'next');
  const split = new RouteSplit(canarySides('stable', 'next', 50), undefined, window);
  const drawn = new Map<string, object>();
  for (let i = 0; i < 200; i++) {
    const side = split.draw(undefined);
    assert.equal(side.window, window);
    if (!drawn.has(side.upstream)) drawn.set(side.upstream, side);
    assert.equal(side, drawn.get(side.upstream), `a draw of ${side.upstream} is the same object each time`);
  }
  assert.deepEqual([...drawn.keys()].sort(), ['next', 'stable']);
  // New weights keep the objects: the sides' order and upstreams never change.
  split.set(canarySides('stable', 'next', 100));
  assert.equal(split.draw(undefined), drawn.get('next'));
  const plain = new RouteSplit([{ upstream: 'blue', weight: 1 }], undefined);
  assert.deepEqual(plain.draw('user'), { upstream: 'blue' });
  assert.equal(plain.draw('user'), plain.draw('other'));
});

test("a canary's key counts one request a step, its first with an outcome: its others are drawn to the same side without the counts, and a new step counts it again", () => {
  const window = new CanaryWindow('stable', 'next');
  const split = new RouteSplit(canarySides('stable', 'next', 50), { kind: 'header', name: 'x-user' }, window);
  const first = split.draw('alice');
  assert.ok(first.window, 'counted');
  // Drawn, but no outcome counted yet (a cache hit answers it, or a 429): the key's vote is not spent.
  assert.ok(split.draw('alice').window, 'a key whose drawn request had no outcome may still count');
  // The key's one request counts each of its attempts, the key and the request beside each.
  first.window.record(first.upstream, undefined, 200, 5);
  first.window.record(first.upstream, undefined, 200, 5);
  const again = split.draw('alice');
  assert.equal(again.upstream, first.upstream, 'the same side');
  assert.equal(again.window, undefined, 'not counted twice in the step');
  assert.ok(split.draw('bob').window, 'another key counts');
  assert.equal(split.draw(undefined).window, window, 'an unkeyed draw (a refresh) counts as before');
  const taken = window.take();
  const side = first.upstream === 'next' ? taken.canary : taken.baseline;
  assert.equal(side.requests, 2);
  assert.equal(side.keys?.length, 6);
  assert.equal(side.keys?.[1], side.keys?.[4], 'one request');
  split.set(canarySides('stable', 'next', 60));
  assert.ok(split.draw('alice').window, 'counted again in the next step');
  // A plain split has no counts, keyed or not.
  const plain = new RouteSplit(canarySides('a', 'b', 50), { kind: 'header', name: 'x-user' });
  assert.equal(plain.draw('alice').window, undefined);
});
