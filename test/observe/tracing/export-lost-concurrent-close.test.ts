/**
 * A close flushes what is queued as several exports at once (512 spans a post); the batch
 * processor's flush gives up at the first of them that fails. The gateway's close took that as
 * the end of the exports: `trace export stopped with spans lost` counted the spans of the exports
 * that had failed by then, and the others, failing a moment later, were in no line (a gateway
 * stopped with 1,202 spans queued for a silent collector said 514).
 */
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { gatewayYaml } from './collector.ts';

// Two spans a post: each request's pair is one export.
process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE = '2';

test('a close whose flush fails export by export says every span lost, not those of the first failure', async () => {
  // A collector that holds every post until it has three (one under way, two from the close), then refuses them all.
  const held: ServerResponse[] = [];
  let three: () => void = () => {};
  const threeHeld = new Promise<void>((resolve) => {
    three = resolve;
  });
  const collector = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      held.push(res);
      if (held.length === 3) three();
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const { port } = collector.address() as AddressInfo;
  const echo = await startEcho();
  const gw = await startTestGateway(gatewayYaml([echo.url], `http://127.0.0.1:${port}/v1/traces`));
  let closed: Promise<void> | undefined;
  try {
    // The first pair goes out at once and is held; the next two wait for the close, which posts them together.
    for (let i = 0; i < 3; i++) assert.equal((await request(gw.url, { path: '/items' })).status, 200);
    closed = gw.close();
    await threeHeld;
    for (const res of held) res.writeHead(400, { 'content-type': 'application/json' }).end('{"code":3}');
    await closed;
  } finally {
    if (closed === undefined) await gw.close();
    await echo.close();
    collector.closeAllConnections();
    await new Promise<void>((resolve) => collector.close(() => resolve()));
  }
  assert.deepEqual(
    gw.logs.filter((line) => line.msg === 'trace export failed').map((line) => line.status),
    [400],
  );
  const lost = gw.logs.filter((line) => line.msg === 'trace export stopped with spans lost');
  assert.deepEqual(
    lost.map(({ level, lost_spans }) => ({ level, lost_spans })),
    [{ level: 'warn', lost_spans: 6 }],
  );
});
