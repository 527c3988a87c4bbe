/**
 * h2load (nghttp2-client), a real HTTP/2 client multiplexing many streams on few connections,
 * through a gateway whose upstream refuses: every stream gets the gateway's 502 with its
 * Proxy-Status (none is reset, none errors), and each is logged once, as over HTTP/1.1.
 * Skipped where h2load is missing (.ci/run installs nghttp2-client).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startRefusing } from '../../../../src/kits/fault-kit/unreachable-faults.ts';
import { hasTool, runTool } from '../../../helpers/cli-tools.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';

test('h2load, 2 connections × 50 streams: 200 requests to a refused upstream, 200 × 502 connection_refused, logged once each', {
  skip: !hasTool('h2load') && 'h2load missing',
}, async () => {
  const refusing = await startRefusing();
  // Outlier detection and the circuit off: every request meets the refusal itself.
  const gw = await startTestGateway(
    `name: edge-1
routes: [{ upstream: app }]
upstreams:
  app:
    targets: [{ url: "${refusing.url}" }]
    outlier_detection: { consecutive_failures: 0 }
    circuit_breaker: { consecutive_failures: 0 }
`,
    {},
    'http2: true',
  );
  try {
    const run = await runTool('h2load', [
      '-n',
      '200',
      '-c',
      '2',
      '-m',
      '50',
      `http://127.0.0.1:${gw.port}/orders`,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /requests: 200 total, 200 started, 200 done, 0 succeeded, 200 failed, 0 errored, 0 timeout/,
    );
    assert.match(run.stdout, /status codes: 0 2xx, 0 3xx, 0 4xx, 200 5xx/);
    await gw.accessLine(200);
    const lines = gw.logs.filter((l) => l.msg === 'request');
    assert.equal(lines.length, 200);
    for (const line of lines) {
      assert.equal(line.protocol, 'HTTP/2');
      assert.equal(line.status, 502);
      assert.equal(line.error, 'connection_refused');
    }
  } finally {
    await gw.close();
    await refusing.close();
  }
});
