/**
 * `candor explain` reads `hop_tries`, the attempts of a call the gateway made for the request on
 * its own account that retried (its forward-auth service, a plugin's `context.fetch`), and counts
 * each failed one against that hop (`auth:NAME`, `plugin:NAME`) and the target it was sent to,
 * never against the route's upstream, which saw nothing of them: the metrics count them at the
 * service's upstream, and the report had no word of them (a refused auth service's target in no
 * row, the failed attempts in no count).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { explain } from './explain-fixture.ts';

test("a retried auth call's and plugin fetch's failed attempts are counted at the hop and its target, not at the route's upstream", async (t) => {
  const refusing = await startRefusing();
  const service = await startEcho();
  const app = await startEcho();
  t.after(() => Promise.all([refusing.close(), service.close(), app.close()]));
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
      forward: { upstream: sso, path: /check }
  - name: checked
    match: { path: /checked }
    upstream: app
    plugins: [checker]
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  sso:
    targets: [{ url: ${refusing.url} }, { url: ${service.url} }]
    outlier_detection: { consecutive_failures: 0 }
  checks:
    targets: [{ url: ${refusing.url} }, { url: ${service.url} }]
    outlier_detection: { consecutive_failures: 0 }
`,
    {},
    '',
    { plugins: { checker } },
  );
  try {
    for (const path of ['/guarded', '/checked']) assert.equal((await request(gw.url, { path })).status, 200);
    await gw.accessLine(2);
  } finally {
    await gw.close();
  }
  const lines = gw.logs.filter((line) => line.msg === 'request');
  assert.deepEqual(
    lines.map((line) => (line.hop_tries as { hop: string; error?: string }[]).map((a) => [a.hop, a.error])),
    [
      [
        ['auth:sso', 'connection_refused'],
        ['auth:sso', undefined],
      ],
      [
        ['plugin:checker', 'connection_refused'],
        ['plugin:checker', undefined],
      ],
    ],
  );
  const file = join(tempDir('candor-explain-hop-tries-'), 'candor.log');
  writeFileSync(file, `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`);
  const report = await explain([file]);
  // Before: no failed attempt, no connection_refused, the refused target in no row.
  assert.equal(report.failedAttempts, 2);
  const refused = report.shapes.flatMap((s) => s.types).find((t) => t.type === 'connection_refused');
  assert.deepEqual(refused?.upstreams, [
    { upstream: 'auth:sso', count: 1 },
    { upstream: 'plugin:checker', count: 1 },
  ]);
  const target = report.targets.find((row) => row.name === new URL(refusing.url).origin);
  assert.deepEqual(target && [target.failures, target.topType], [2, 'connection_refused']);
  // The route's upstream answered both requests and failed none.
  const upstream = report.upstreams.find((row) => row.name === 'app');
  assert.deepEqual(upstream && [upstream.requests, upstream.failures], [2, 0]);
});
