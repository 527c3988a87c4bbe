/**
 * The sampled flag every hop is told is the gateway's sampler's decision: a trace Candor
 * started and did not record (`sample_ratio`) is `-00` to the upstream and to the calls the
 * gateway makes for the request (a forward-auth service) alike. Told `-01`, the auth
 * service recorded every request's spans under a parent no collector ever got.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardAuthConfig, startAuthService, startAuthStage } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';
import { startCollector } from './collector.ts';

const tracing = (endpoint: string, ratio: number) => `tracing:
  otlp_endpoint: ${endpoint}
  sample_ratio: ${ratio}
`;

for (const ratio of [0, 1]) {
  test(`sample_ratio ${ratio}: the auth service and the upstream are told the same sampled flag, of the one trace`, async () => {
    const collector = await startCollector();
    const service = await startAuthService((_req, res) => res.writeHead(200).end());
    const { gw, echo, close } = await startAuthStage(
      (app) => `${forwardAuthConfig(app, `{ url: "${service.url}" }`)}${tracing(collector.endpoint, ratio)}`,
    );
    try {
      assert.equal((await request(gw.url, { path: '/app' })).status, 200);
    } finally {
      await close(service);
      await collector.close();
    }
    const flags = ratio === 0 ? '00' : '01';
    const upstream = String(echo.received[0].headers.traceparent);
    const auth = String(service.asked[0].traceparent);
    assert.match(upstream, new RegExp(`^00-[0-9a-f]{32}-[0-9a-f]{16}-${flags}$`));
    assert.match(auth, new RegExp(`^00-[0-9a-f]{32}-[0-9a-f]{16}-${flags}$`));
    assert.equal(auth.slice(3, 35), upstream.slice(3, 35), 'one trace');
    if (ratio === 0) assert.equal(collector.spans.length, 0);
    else {
      // The auth service's parent is the call's own span, the request's server span's child (forward-auth-spans.test.ts).
      const server = collector.spans.find((s) => s.kind === 2);
      const call = collector.spans.find((s) => s.spanId === auth.slice(36, 52));
      assert.equal(call?.parentSpanId, server?.spanId);
      assert.equal(call?.attributes['candor.hop'], `auth:${service.host}`);
    }
  });
}
