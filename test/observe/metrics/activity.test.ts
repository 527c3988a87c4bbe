/**
 * The status page's activity (src/observe/metrics/activity.ts): per-second answers by origin and
 * failure type, and the latest failures, from a real gateway's requests; bounded however many
 * requests come; merged across processes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Failure } from '../../../src/core/failure/failure.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { RequestRecord } from '../../../src/observe/log/request-record.ts';
import {
  ACTIVITY_SECONDS,
  Activity,
  mergeActivity,
  RECENT_FAILURES,
} from '../../../src/observe/metrics/activity.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { TRACE } from '../../helpers/trace-context.ts';

test('a gateway counts each answer in its second, by origin and failure type, and keeps the failure with its request id', async () => {
  const ok = await startEcho();
  const refusing = await startRefusing();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: ok
    match: { path: /ok }
    upstream: ok
  - name: down
    match: { path: /down }
    upstream: down
upstreams:
  ok:
    targets:
      - url: ${ok.url}
  down:
    targets:
      - url: ${refusing.url}
`);
  try {
    for (let i = 0; i < 3; i++) assert.equal((await request(gw.url, { path: '/ok' })).status, 200);
    const failed = await request(gw.url, { path: '/down' });
    assert.equal(failed.status, 502);
    const report = gw.gateway.metrics.activity.report();
    const totals: Record<string, number> = {};
    for (const second of report.seconds)
      for (const [series, n] of Object.entries(second.counts)) totals[series] = (totals[series] ?? 0) + n;
    assert.deepEqual(totals, { upstream: 3, 'gateway connection_refused': 1 });
    assert.equal(report.failures.length, 1);
    const [failure] = report.failures;
    assert.equal(failure.req_id, failed.headers['x-request-id']);
    assert.deepEqual(
      { ...failure, at: undefined, req_id: undefined, target: undefined },
      {
        at: undefined,
        req_id: undefined,
        target: undefined,
        method: 'GET',
        route: 'down',
        upstream: 'down',
        auth_hop: null,
        plugin_hop: null,
        status: 502,
        origin: 'gateway',
        error: 'connection_refused',
        shape: 'unreachable',
        details: failure.details,
      },
    );
    assert.match(failure.details, /ECONNREFUSED/);
  } finally {
    await gw.close();
    await ok.close();
    await refusing.close();
  }
});

test('a failure of a hop the gateway called for the request names that hop, as the log line does, not an empty target', async () => {
  // The status page's latest failures showed the route and no target for an auth hop's 502 (its
  // log line has no upstream, only auth_hop) and for a plugin's hop's: the one surface that named
  // nobody, where Proxy-Status, the log, the metrics, the span and GET /status name the hop.
  const app = await startEcho();
  const refusing = await startRefusing();
  const checker: Plugin = (_options, context) => ({
    async onRequest(request) {
      await context.fetch('checks', '/check', { request });
    },
  });
  const gw = await startTestGateway(
    `name: edge-1
plugins:
  checker: { module: /nonexistent/checker.ts }
routes:
  - name: guarded
    match: { path: /guarded }
    upstream: app
    auth:
      forward: { url: ${refusing.url}/check }
  - name: checked
    match: { path: /checked }
    upstream: app
    plugins: [checker]
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  checks: { targets: [{ url: ${refusing.url} }] }
`,
    {},
    '',
    { plugins: { checker } },
  );
  try {
    const hops: Record<string, unknown>[] = [];
    for (const path of ['/guarded', '/checked']) {
      const res = await request(gw.url, { path });
      assert.equal(res.status, 502);
      const line = await gw.logFor(String(res.headers['x-request-id']));
      const failure = gw.gateway.metrics.activity
        .report()
        .failures.find((f) => f.req_id === res.headers['x-request-id']);
      assert.ok(failure);
      hops.push({
        line: [line.upstream, line.target, line.auth_hop, line.plugin_hop],
        page: [failure.upstream, failure.target, failure.auth_hop, failure.plugin_hop],
      });
    }
    const port = new URL(refusing.url).port;
    assert.deepEqual(hops, [
      {
        line: [undefined, undefined, `auth:127.0.0.1:${port}`, undefined],
        page: [null, null, `auth:127.0.0.1:${port}`, null],
      },
      {
        line: [undefined, undefined, undefined, 'checks'],
        page: [null, null, null, 'checks'],
      },
    ]);
  } finally {
    await gw.close();
    await app.close();
    await refusing.close();
  }
});

const failedRecord = (id: string) => {
  const record = new RequestRecord(id, TRACE, '127.0.0.1', 'GET', 'example.com', '/');
  record.status = 502;
  record.failure = new Failure('connection_refused', 'connect ECONNREFUSED 127.0.0.1:1');
  return record;
};

test('the window and the failure ring stay bounded: old seconds and old failures are forgotten', () => {
  const activity = new Activity();
  const start = 1_800_000_000_000;
  for (let s = 0; s < ACTIVITY_SECONDS + 20; s++)
    activity.record(failedRecord(`r${s}`), 'gateway', start + s * 1000);
  const now = start + (ACTIVITY_SECONDS + 19) * 1000;
  const report = activity.report(now);
  assert.equal(report.seconds.length, ACTIVITY_SECONDS);
  assert.equal(report.seconds[0].t, Math.floor(now / 1000) - ACTIVITY_SECONDS + 1);
  assert.equal(report.failures.length, RECENT_FAILURES);
  assert.equal(report.failures[0].req_id, `r${ACTIVITY_SECONDS + 19}`, 'newest first');
  // A second later than the window holds nothing of it.
  assert.equal(activity.report(now + ACTIVITY_SECONDS * 1000).seconds.length, 0);
});

test('merging adds the counts of the same second and keeps the newest failures of all', () => {
  const a = new Activity();
  const b = new Activity();
  const t = 1_800_000_000_000;
  a.record(failedRecord('a1'), 'gateway', t);
  b.record(failedRecord('b1'), 'gateway', t + 10);
  b.record(failedRecord('b2'), 'gateway', t + 1000);
  const merged = mergeActivity([a.report(t + 1000), b.report(t + 1000)]);
  assert.deepEqual(merged.seconds, [
    { t: t / 1000, counts: { 'gateway connection_refused': 2 } },
    { t: t / 1000 + 1, counts: { 'gateway connection_refused': 1 } },
  ]);
  assert.deepEqual(
    merged.failures.map((f) => f.req_id),
    ['b2', 'b1', 'a1'],
  );
});

test('in any order of answers and seconds, each second counts each series as often as it was recorded', () => {
  const start = 1_800_000_000_000;
  const answer = fc.record({
    // Within the window, and once past it (the same slot of a later second: counted afresh).
    second: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(ACTIVITY_SECONDS + 1)),
    origin: fc.constantFrom<'gateway' | 'upstream' | 'client'>('gateway', 'upstream', 'client'),
    failed: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(answer, { maxLength: 40 }), (answers) => {
      const activity = new Activity();
      const ok = failedRecord('ok');
      ok.failure = undefined;
      ok.status = 200;
      const expected = new Map<number, Record<string, number>>();
      for (const { second, origin, failed } of answers) {
        activity.record(failed ? failedRecord('x') : ok, origin, start + second * 1000 + 250);
        const t = Math.floor(start / 1000) + second;
        // A later second in the same slot forgets the older one (the window is ACTIVITY_SECONDS long).
        for (const old of expected.keys())
          if (old % ACTIVITY_SECONDS === t % ACTIVITY_SECONDS && old !== t) expected.delete(old);
        const counts = expected.get(t) ?? {};
        const series = failed ? `${origin} connection_refused` : origin;
        counts[series] = (counts[series] ?? 0) + 1;
        expected.set(t, counts);
      }
      const last = Math.max(...[...expected.keys()], Math.floor(start / 1000) + 3);
      const report = activity.report(last * 1000);
      const window = [...expected.entries()]
        .filter(([t]) => t > last - ACTIVITY_SECONDS)
        .sort(([a], [b]) => a - b)
        .map(([t, counts]) => ({ t, counts }));
      assert.deepEqual(report.seconds, window);
    }),
    { numRuns: 300 },
  );
});
