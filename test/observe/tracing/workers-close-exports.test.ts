/**
 * `serve --workers N` with a collector that does not answer: each worker's close, after its
 * drain, waits for its last exports up to the exporter's timeout (docs/observability.md). The
 * primary killed a worker 5 s past `drain.timeout` whatever it was doing: with a short drain (or
 * a long one that ran to its deadline) the workers were killed while their exports waited, the
 * log said `worker outlived the drain: killed (SIGKILL), its requests in flight without their log
 * lines` when no request was in flight, the spans lost were in no line, and the gateway exited 1.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { EXIT } from '../../../src/server/cluster/exit-codes.ts';
import { request } from '../../helpers/http-client.ts';
import { startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

test("a worker's close waits out its last exports to a silent collector: not killed, the spans lost said, exit 0", async () => {
  // A collector that reads each post and never answers.
  const collector = createServer((req) => req.resume());
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const { port: collectorPort } = collector.address() as AddressInfo;
  const echo = await startEcho();
  const config = join(tempDir('candor-close-exports-'), 'candor.yaml');
  writeFileSync(
    config,
    `listen:
  - address: 127.0.0.1:${await freePort()}
drain: { timeout: 200ms }
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${echo.url}
tracing:
  otlp_endpoint: http://127.0.0.1:${collectorPort}/v1/traces
`,
  );
  // The spans wait for the close (no export before it); its exports end at 6 s, past the primary's 5 s grace.
  const serve = await startServe(config, 2, {
    env: { OTEL_BSP_SCHEDULE_DELAY: '600000', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '6000' },
  });
  let code: number | null;
  try {
    for (let i = 0; i < 4; i++)
      assert.equal((await request(`http://127.0.0.1:${serve.port}`, { path: `/${i}` })).status, 200);
  } finally {
    code = await serve.stop();
    await echo.close();
    collector.closeAllConnections();
    collector.close();
  }
  assert.deepEqual(
    serve.lines.filter((l) => String(l.msg).startsWith('worker outlived the drain')),
    [],
    serve.stderr(),
  );
  assert.equal(code, EXIT.ok);
  const lost = serve.lines.filter((l) => l.msg === 'trace export stopped with spans lost');
  assert.equal(
    lost.reduce((sum, l) => sum + Number(l.lost_spans), 0),
    8,
    'each request a server span and a client span, lost',
  );
});
