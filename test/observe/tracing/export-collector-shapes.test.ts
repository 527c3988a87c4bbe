/**
 * Collectors that misbehave, each as it is read: an outage ended (one line when exports fail,
 * one when they work again with the spans lost meanwhile), a redirect (not followed: no span
 * goes to a host the config does not name), and a `Retry-After` (waited when it fits within the
 * exporter's timeout, not when it does not; never more than the exporter's five retries).
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';
import { samples, sampleValue, scrape } from '../metrics/scrape.ts';
import { gatewayYaml } from './collector.ts';

// Read by the exporter and the batch processor when the gateway makes them (this file's own process).
process.env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT = '1000';
process.env.OTEL_BSP_SCHEDULE_DELAY = '100';

/** A collector that reads each post whole, then answers with `answer`. */
async function listen(answer: (res: ServerResponse) => void, port = 0): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(res));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}
const endpointOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

test('a collector down, then back: one line when exports fail, one when they work again with the spans lost', async () => {
  const port = await freePort();
  const echo = await startEcho();
  const gw = await startTestGateway(
    `metrics:\n  listen: 127.0.0.1:0\n${gatewayYaml([echo.url], `http://127.0.0.1:${port}/v1/traces`)}`,
  );
  let received = 0;
  let collector: Server | undefined;
  const spans: Record<string, number | undefined> = {};
  try {
    for (let i = 0; i < 3; i++) assert.equal((await request(gw.url, { path: '/items' })).status, 200);
    await waitUntil('the export failed', () => gw.logs.some((l) => l.msg === 'trace export failed'), 10_000);
    collector = await listen((res) => {
      received++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    }, port);
    assert.equal((await request(gw.url, { path: '/items' })).status, 200);
    await waitUntil('the export works again', () =>
      gw.logs.some((l) => l.msg === 'trace export works again'),
    );
    // Every span's end counted, the lost ones with them: the lines say only when it changed.
    const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    for (const result of ['exported', 'failed', 'dropped'])
      spans[result] = sampleValue(all, 'candor_trace_spans_total', { result });
  } finally {
    await gw.close();
    await echo.close();
    if (collector) await close(collector);
  }
  const failed = gw.logs.filter((l) => l.msg === 'trace export failed');
  assert.equal(failed.length, 1, 'said once');
  assert.match(String(failed[0].error), /ECONNREFUSED/);
  const back = gw.logs.filter((l) => l.msg === 'trace export works again');
  assert.equal(back.length, 1);
  assert.equal(back[0].level, 'info');
  // Three requests' six spans while it was down (in one batch, or two on a loaded machine: the
  // second then exported once it is back), the fourth request's two after: every span counted
  // once, the lost ones as the line says.
  assert.ok(Number(back[0].lost_spans) >= 2, String(back[0].lost_spans));
  assert.ok(received >= 1);
  assert.deepEqual(spans, {
    exported: 8 - Number(back[0].lost_spans),
    failed: back[0].lost_spans,
    dropped: 0,
  });
});

for (const status of [301, 307, 308]) {
  test(`a collector redirecting (${status}) to another: not followed, nothing sent there, the status in the line`, async () => {
    let elsewhere = 0;
    const other = await listen((res) => {
      elsewhere++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    let posts = 0;
    const collector = await listen((res) => {
      posts++;
      res.writeHead(status, { location: endpointOf(other) }).end();
    });
    const echo = await startEcho();
    const gw = await startTestGateway(gatewayYaml([echo.url], endpointOf(collector)));
    try {
      assert.equal((await request(gw.url, { path: '/items' })).status, 200);
      await waitUntil('the export failed', () => gw.logs.some((l) => l.msg === 'trace export failed'));
    } finally {
      await gw.close();
      await echo.close();
      await close(collector);
      await close(other);
    }
    assert.equal(elsewhere, 0);
    assert.equal(posts, 1, 'a redirect is final');
    const failed = gw.logs.filter((l) => l.msg === 'trace export failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0].status, status);
  });
}

test('a 503 whose Retry-After is past the exporter timeout: not waited, one post, one line', async () => {
  let posts = 0;
  const collector = await listen((res) => {
    posts++;
    res.writeHead(503, { 'retry-after': '3600' }).end();
  });
  const echo = await startEcho();
  const gw = await startTestGateway(gatewayYaml([echo.url], endpointOf(collector)));
  try {
    assert.equal((await request(gw.url, { path: '/items' })).status, 200);
    await waitUntil('the export failed', () => gw.logs.some((l) => l.msg === 'trace export failed'));
  } finally {
    await gw.close();
    await echo.close();
    await close(collector);
  }
  assert.equal(posts, 1);
  assert.equal(gw.logs.filter((l) => l.msg === 'trace export failed').length, 1);
});

test('a 429 with Retry-After: 0 is retried, at most five times, and said once', async () => {
  let posts = 0;
  const collector = await listen((res) => {
    posts++;
    res.writeHead(429, { 'retry-after': '0' }).end();
  });
  const echo = await startEcho();
  const gw = await startTestGateway(gatewayYaml([echo.url], endpointOf(collector)));
  try {
    assert.equal((await request(gw.url, { path: '/items' })).status, 200);
    await waitUntil('the export failed', () => gw.logs.some((l) => l.msg === 'trace export failed'));
  } finally {
    await gw.close();
    await echo.close();
    await close(collector);
  }
  assert.ok(posts > 1 && posts <= 6, String(posts));
  assert.equal(gw.logs.filter((l) => l.msg === 'trace export failed').length, 1);
});
