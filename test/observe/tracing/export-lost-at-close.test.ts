/**
 * Spans lost while the collector keeps failing are said once, when the exports start failing;
 * those of later exports, and of the last ones a close makes, were in no line: a gateway stopped
 * with its collector down told `spans: 512` of the 600 it lost. The close says the whole loss.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { gatewayYaml, startCollector } from './collector.ts';

// Read by the batch processor when the gateway makes it (this file's own process): no timed
// export while the requests run, only the one 512 spans start and the close's. With the SDK's
// 5 s, a loaded run slower than that exported what it had then (`spans: 12`, not 512).
process.env.OTEL_BSP_SCHEDULE_DELAY = '600000';

test('a close while the collector fails says every span lost since the last export that worked', async () => {
  // A collector that answers 400 to every export: a failure the exporter does not retry.
  const collector = await startCollector(true);
  const echo = await startEcho();
  const gw = await startTestGateway(gatewayYaml([echo.url], collector.endpoint));
  try {
    // 600 spans: two exports at the close (512 a post), the second failing after the line.
    for (let i = 0; i < 300; i++) assert.equal((await request(gw.url, { path: '/items' })).status, 200);
  } finally {
    await gw.close();
    await echo.close();
    await collector.close();
  }
  const failed = gw.logs.filter((line) => line.msg === 'trace export failed');
  assert.deepEqual(
    failed.map((line) => line.spans),
    [512],
  );
  const lost = gw.logs.filter((line) => line.msg === 'trace export stopped with spans lost');
  assert.deepEqual(
    lost.map(({ level, lost_spans }) => ({ level, lost_spans })),
    [{ level: 'warn', lost_spans: 600 }],
  );
});
