/**
 * The balancing contract of docs/configuration.md (`upstreams.*.balancer`, `hash_key`,
 * `targets[].weight`, the admin drain), held on a real gateway with real upstreams that count
 * what they got: one table, each case a config, a run of requests and the counts or targets they
 * must give. Counts, never times: round robin is exact over N×k requests, a 3:1 weighting is
 * 3:1 exactly (smooth), a hash key stays on one target and a target added or removed moves only
 * its own keys, a key whose target is drained goes to the next on the ring and comes back after,
 * a request without the key's header is keyed by its client address, every target drained is the
 * gateway's 503 (never a 502), a drained target's request in flight ends whole, and a retry never
 * goes back to a target it tried while another is left. The cases held elsewhere (least_conn's
 * idle target, slow start, ejection, backup tiers) are in least-conn, slow-start-*, priority-tiers.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

const configOf = (targets: string, more = '') => `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets: [${targets}]
${more}`;

/** One GET; its status and the target its log line names. */
async function send(gw: TestGateway, headers: Record<string, string> = {}, path = '/') {
  const res = await request(gw.url, { path, headers });
  const line = await gw.logFor(String(res.headers['x-request-id']));
  return { res, line, target: String(line.target) };
}

const reload = (gw: TestGateway, config: string) =>
  gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${config}`, '<test>', {}));

/** Where each of `keys` goes now (by the log line's target), one request a key. */
async function homes(gw: TestGateway, keys: readonly string[]): Promise<Map<string, string>> {
  const at = new Map<string, string>();
  for (const key of keys) at.set(key, (await send(gw, { 'x-user': key })).target);
  return at;
}

interface Case {
  readonly name: string;
  readonly targets: number;
  run(echoes: readonly Fault[]): Promise<void>;
}

const KEYS = Array.from({ length: 120 }, (_, i) => `user-${i}`);

const cases: Case[] = [
  {
    name: 'round robin: exact over N×k requests',
    targets: 3,
    async run(echoes) {
      const gw = await keep(startTestGateway(configOf(echoes.map((e) => `{ url: "${e.url}" }`).join(', '))));
      for (let i = 0; i < 30; i++) assert.equal((await send(gw)).res.status, 200);
      assert.deepEqual(
        echoes.map((e) => e.received.length),
        [10, 10, 10],
      );
    },
  },
  {
    name: 'round robin 3:1: exactly 3:1, spread a,a,b,a',
    targets: 2,
    async run([a, b]) {
      const gw = await keep(
        startTestGateway(configOf(`{ url: "${a.url}", weight: 3 }, { url: "${b.url}" }`)),
      );
      const picks: string[] = [];
      for (let i = 0; i < 40; i++) picks.push((await send(gw)).target === a.url ? 'a' : 'b');
      assert.equal(picks.slice(0, 8).join(''), 'aabaaaba');
      assert.deepEqual([a.received.length, b.received.length], [30, 10]);
    },
  },
  {
    name: 'one target takes every request, whatever its weight',
    targets: 1,
    async run([a]) {
      const gw = await keep(
        startTestGateway(configOf(`{ url: "${a.url}", weight: 7 }`, '    balancer: least_conn\n')),
      );
      for (let i = 0; i < 10; i++) assert.equal((await send(gw)).target, a.url);
    },
  },
  {
    name: 'hash: a key stays on one target; a target added takes about 1/N of the keys, from every other, and moves no other key; removed, every key is back',
    targets: 4,
    async run(echoes) {
      const three = echoes.slice(0, 3).map((e) => `{ url: "${e.url}" }`);
      const hash = '    balancer: hash\n    hash_key: header:x-user\n';
      const config3 = configOf(three.join(', '), hash);
      const gw = await keep(startTestGateway(config3));
      const before = await homes(gw, KEYS);
      assert.deepEqual(await homes(gw, KEYS), before, 'asked again, every key on the same target');
      for (const e of echoes.slice(0, 3)) {
        const share = [...before.values()].filter((t) => t === e.url).length;
        assert.ok(share >= 20 && share <= 60, `${e.url} had ${share} of ${KEYS.length} keys`);
      }
      await reload(gw, configOf([...three, `{ url: "${echoes[3].url}" }`].join(', '), hash));
      const after = await homes(gw, KEYS);
      const moved = KEYS.filter((k) => after.get(k) !== before.get(k));
      for (const k of moved) assert.equal(after.get(k), echoes[3].url, `${k} moved, not to the new target`);
      assert.ok(
        moved.length >= 12 && moved.length <= 60,
        `${moved.length} of ${KEYS.length} keys moved (about a quarter)`,
      );
      await reload(gw, config3);
      assert.deepEqual(await homes(gw, KEYS), before, 'the fourth removed: each key back on its target');
    },
  },
  {
    name: 'hash: a key whose target is drained goes to the next on the ring (hash_home names its own), and comes back when it is enabled',
    targets: 3,
    async run(echoes) {
      const gw = await keep(
        startTestGateway(
          configOf(
            echoes.map((e) => `{ url: "${e.url}" }`).join(', '),
            '    balancer: hash\n    hash_key: header:x-user\n',
          ),
        ),
      );
      const before = await homes(gw, KEYS);
      const drained = echoes[0].url;
      gw.gateway.apply({ kind: 'target_state', upstream: 'app', target: drained, state: 'draining' });
      const fromA = echoes[0].received.length;
      for (const key of KEYS) {
        const { target, line } = await send(gw, { 'x-user': key });
        if (before.get(key) === drained) {
          assert.notEqual(target, drained);
          assert.equal(line.hash_home, drained, 'the log names the key’s own target');
        } else assert.equal(target, before.get(key), `${key} moved though its target was in rotation`);
      }
      assert.equal(echoes[0].received.length, fromA, 'the drained target got nothing new');
      gw.gateway.apply({ kind: 'target_state', upstream: 'app', target: drained, state: 'enabled' });
      assert.deepEqual(await homes(gw, KEYS), before, 'enabled again: every key back on its own target');
    },
  },
  {
    name: 'hash by header: a request without it is keyed by its client address (one target for all of them, the same as that address’s)',
    targets: 3,
    async run(echoes) {
      const gw = await keep(
        startTestGateway(
          configOf(
            echoes.map((e) => `{ url: "${e.url}" }`).join(', '),
            '    balancer: hash\n    hash_key: header:x-user\n',
          ),
        ),
      );
      const own = (await send(gw, { 'x-user': '127.0.0.1' })).target;
      for (let i = 0; i < 10; i++) assert.equal((await send(gw)).target, own);
    },
  },
  {
    name: 'every target drained: 503 destination_unavailable with Retry-After, nothing sent upstream; a request in flight on a drained target ends whole',
    targets: 2,
    async run([a, b]) {
      const gw = await keep(startTestGateway(configOf(`{ url: "${a.url}" }, { url: "${b.url}" }`)));
      const slow = request(gw.url, { path: '/?delay=300' });
      while (a.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      gw.gateway.apply({ kind: 'target_state', upstream: 'app', target: a.url, state: 'draining' });
      for (let i = 0; i < 4; i++)
        assert.equal((await send(gw)).target, b.url, 'the drained target takes nothing new');
      gw.gateway.apply({ kind: 'target_state', upstream: 'app', target: b.url, state: 'draining' });
      const { res, line } = await send(gw);
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'] !== undefined, true);
      assert.equal(
        res.headers['proxy-status'],
        'edge-1; error=destination_unavailable; details="no target of \\"app\\" is in rotation (2 drained, disabled or weighted 0 by an operator)"; next-hop="app"',
      );
      assert.equal(line.target, undefined);
      const inFlight = await slow;
      assert.equal(inFlight.status, 200);
      assert.deepEqual([a.received.length, b.received.length], [1, 4]);
    },
  },
];

for (const c of cases)
  test(c.name, async () => {
    const echoes = await Promise.all(Array.from({ length: c.targets }, () => keep(startEcho())));
    await c.run(echoes);
  });

test('a target failing its health checks mid-run gets nothing new, its request in flight ends whole, and it takes its turn again once it passes', async () => {
  let healthy = true;
  const served: string[] = [];
  const flaky = createServer((req, res) => {
    if (req.url === '/health') return res.writeHead(healthy ? 200 : 503).end();
    served.push(String(req.url));
    setTimeout(() => res.end('whole'), req.url === '/slow' ? 300 : 0);
  });
  await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
  keep({
    close: () => new Promise<void>((resolve) => flaky.close(() => resolve()).closeAllConnections()),
  });
  const other = await keep(startEcho());
  const flakyUrl = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`;
  const gw = await keep(
    startTestGateway(
      configOf(
        `{ url: "${flakyUrl}" }, { url: "${other.url}" }`,
        '    health_check: { path: /health, interval: 20ms, timeout: 1s, rise: 1, fall: 1 }\n    panic_threshold: 0\n',
      ),
    ),
  );
  const [target] = gw.gateway.runtime().upstreams.get('app')?.targets ?? [];
  const until = async (done: () => boolean) => {
    while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
  };
  const slow = request(gw.url, { path: '/slow' });
  await until(() => served.includes('/slow'));
  healthy = false;
  await until(() => !target.checkedHealthy);
  for (let i = 0; i < 4; i++) assert.equal((await send(gw, {}, `/out${i}`)).target, other.url);
  const inFlight = await slow;
  assert.deepEqual([inFlight.status, inFlight.body.toString()], [200, 'whole']);
  healthy = true;
  await until(() => target.checkedHealthy);
  const back = [];
  for (let i = 0; i < 4; i++) back.push((await send(gw, {}, `/back${i}`)).target);
  assert.equal(back.filter((t) => t === flakyUrl).length, 2, back.join(', '));
  assert.deepEqual(
    served.filter((p) => p.startsWith('/out')),
    [],
  );
});

test('a retry never goes back to a target it tried while an untried one is left', async () => {
  const refusing = await Promise.all([keep(startRefusing()), keep(startRefusing())]);
  const alive = await keep(startEcho());
  const urls = [refusing[0].url, refusing[1].url, alive.url];
  const gw = await keep(
    startTestGateway(
      configOf(
        urls.map((u) => `{ url: "${u}" }`).join(', '),
        // Nothing takes a refusing target out: the balancer alone decides each attempt's target.
        '    retries: { attempts: 3, backoff: { base: 1ms, max: 1ms } }\n    outlier_detection: { consecutive_failures: 0 }\n    circuit_breaker: { consecutive_failures: 0 }\n',
      ),
    ),
  );
  for (let i = 0; i < 12; i++) {
    const { res, line, target } = await send(gw);
    assert.equal(res.status, 200);
    assert.equal(target, alive.url);
    const tried = ((line.tries as { target: string }[] | undefined) ?? []).map((t) => t.target);
    assert.equal(new Set(tried).size, tried.length, `tried ${tried.join(', ')}`);
  }
});
