/**
 * A call the gateway makes for a request on its own account (its forward-auth service, a plugin's
 * `context.fetch`) that retried is in the request's line, as the metrics and the trace tell it:
 * the auth service refused on its first target and answered on its second, and the metrics
 * counted a refused attempt and a retry at its upstream, the trace two client spans, while the
 * line said `auth: allowed` and nothing more. Its time was in `ttfb_ms` with nothing to show for
 * it, and an operator who saw the refusals in the metrics found no line of them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { samples, sampleValue, scrape } from '../metrics/scrape.ts';

test("a retried auth call and a retried plugin fetch are in the request's line, each attempt as the metrics count it", async () => {
  const refusing = await startRefusing();
  const service = await startEcho();
  const app = await startEcho();
  const checker: Plugin = (_options, context) => ({
    async onRequest(request) {
      await context.fetch('checks', '/check', { request });
    },
  });
  const gw = await startTestGateway(
    `name: edge-1
metrics:
  listen: 127.0.0.1:0
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
  - name: once
    match: { path: /once }
    upstream: app
    auth:
      forward: { upstream: direct, path: /check }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  sso:
    targets: [{ url: ${refusing.url} }, { url: ${service.url} }]
    outlier_detection: { consecutive_failures: 0 }
  checks:
    targets: [{ url: ${refusing.url} }, { url: ${service.url} }]
    outlier_detection: { consecutive_failures: 0 }
  direct: { targets: [{ url: ${service.url} }] }
`,
    {},
    '',
    { plugins: { checker } },
  );
  try {
    const refused = new URL(refusing.url).origin;
    const answered = new URL(service.url).origin;
    const lines: Record<string, unknown>[] = [];
    for (const path of ['/guarded', '/checked', '/once']) {
      const res = await request(gw.url, { path });
      assert.equal(res.status, 200);
      lines.push(await gw.logFor(String(res.headers['x-request-id'])));
    }
    const tried = (line: Record<string, unknown>) =>
      (line.hop_tries as Array<Record<string, unknown>> | undefined)?.map((t) => [
        t.hop,
        t.target,
        t.error ?? t.status,
        t.stage,
        typeof t.ms,
      ]);
    assert.deepEqual(
      lines.map((line) => [line.auth, line.attempts, tried(line)]),
      [
        [
          'allowed',
          1,
          [
            ['auth:sso', refused, 'connection_refused', 'not_sent', 'number'],
            ['auth:sso', answered, 200, undefined, 'number'],
          ],
        ],
        [
          undefined,
          1,
          [
            ['plugin:checker', refused, 'connection_refused', 'not_sent', 'number'],
            ['plugin:checker', answered, 200, undefined, 'number'],
          ],
        ],
        // One attempt that answered: nothing to tell beyond `auth: allowed`.
        ['allowed', 1, undefined],
      ],
    );
    // As the metrics count them: the refused attempt and the retry at each service's upstream.
    const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    for (const upstream of ['sso', 'checks']) {
      assert.equal(
        sampleValue(all, 'candor_upstream_attempts_total', {
          upstream,
          target: refused,
          outcome: 'connection_refused',
          reused_connection: 'false',
        }),
        1,
        upstream,
      );
      assert.equal(
        sampleValue(all, 'candor_retries_total', {
          upstream,
          reason: 'connection_refused',
          result: 'response',
        }),
        1,
        upstream,
      );
    }
  } finally {
    await gw.close();
    await Promise.all([refusing.close(), service.close(), app.close()]);
  }
});
