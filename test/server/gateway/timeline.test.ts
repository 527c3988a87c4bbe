/**
 * A gateway run in-process (the library) keeps its own deploy timeline (issue 36): its reloads
 * (with the targets that joined and left), its runtime changes and its own health checks'
 * transitions are events in its ring and event lines in its log; a canary controller's steps go
 * through the same sink.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startSwitchable } from '../../../src/kits/fault-kit/switchable.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const yaml = (targets: string[]) => `name: inproc
routes:
  - name: app
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [${targets.map((url) => `{ url: "${url}" }`).join(', ')}]
`;

test('in-process: a reload, a runtime change and a canary step are events of the ring and lines of the log', async () => {
  const a = await startEcho();
  const b = await startEcho();
  const gw = await startTestGateway(yaml([a.url]));
  try {
    await gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml([b.url])}`, '<test>', {}));
    gw.gateway.apply({ kind: 'target_state', upstream: 'app', target: b.url, state: 'draining' });
    gw.gateway.timeline.canary({ route: 'app', upstream: 'app-next', action: 'step', weight: 25 });
    const ring = gw.gateway.timeline.ring.list();
    assert.deepEqual(
      ring.map((e) => e.kind),
      ['reload', 'admin', 'canary'],
    );
    const [reload, admin, canary] = ring;
    assert.equal(reload.kind === 'reload' && reload.config_hash, gw.gateway.configHash());
    assert.deepEqual(reload.kind === 'reload' && reload.targets, { app: { joined: [b.url], left: [a.url] } });
    assert.deepEqual(admin.kind === 'admin' && admin.change, {
      kind: 'target_state',
      upstream: 'app',
      target: b.url,
      state: 'draining',
    });
    assert.equal(canary.kind === 'canary' && canary.weight, 25);
    const lines = gw.logs.filter((l) => l.msg === 'event').map((l) => l.event);
    assert.deepEqual(lines, ring, 'each event is a log line, as recorded');
  } finally {
    await gw.close();
    await a.close();
    await b.close();
  }
});

test("in-process: its own health checks' transitions are events, with the failure that took the target out", async () => {
  const target = await startSwitchable();
  const gw = await startTestGateway(`name: inproc-health
routes:
  - name: app
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "${target.url}" }]
    health_check: { path: /health, interval: 100ms, timeout: 300ms, rise: 1, fall: 2 }
`);
  try {
    target.setMode('reset');
    await waitUntil(
      'the health event',
      () => gw.gateway.timeline.ring.list().some((e) => e.kind === 'health'),
      10_000,
    );
    target.setMode('ok');
    await waitUntil(
      'the target back',
      () => gw.gateway.timeline.ring.list().filter((e) => e.kind === 'health').length === 2,
      10_000,
    );
    const health = gw.gateway.timeline.ring.list().filter((e) => e.kind === 'health');
    const origin = `http://127.0.0.1:${target.port}`;
    assert.deepEqual(
      health.map((e) => ({ ...e, at: undefined, id: undefined })),
      [
        {
          kind: 'health',
          upstream: 'app',
          target: origin,
          state: 'unhealthy',
          failure: (health[0] as { failure?: string }).failure,
          at: undefined,
          id: undefined,
        },
        { kind: 'health', upstream: 'app', target: origin, state: 'healthy', at: undefined, id: undefined },
      ],
    );
    assert.ok(health[1].id > health[0].id, 'ids in the order recorded');
    assert.match(String((health[0] as { failure?: string }).failure), /^connection_/);
    assert.equal(gw.logs.filter((l) => l.msg === 'event').length, 2);
  } finally {
    await gw.close();
    await target.close();
  }
});
