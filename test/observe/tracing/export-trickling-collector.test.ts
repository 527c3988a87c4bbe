/**
 * A collector that answers a byte at a time: the OTLP exporter's timeout is the socket's idle
 * one, so an export it holds went on for as long as the collector kept sending, in no line of
 * the log and no count of spans lost, and the gateway's close (a drain, SIGTERM) waited for it:
 * for ever against a collector that never finishes. Each export now ends at the exporter's
 * timeout whole (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, 1 s here), as the OTLP exporter spec means.
 */
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { gatewayYaml } from './collector.ts';

// Read by the exporter and the batch processor when the gateway makes them (this file's own process).
process.env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT = '1000';
process.env.OTEL_BSP_SCHEDULE_DELAY = '100';

/** The answer's head, then a byte of its body every 100 ms; or the head itself a byte at a time. */
const SHAPES = {
  'its body': (res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100000' });
    return () => res.write(' ');
  },
  'its head': (res: ServerResponse) => {
    const head = `HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}`;
    let at = 0;
    return () => {
      if (at < head.length) (res.socket as Socket).write(head[at++]);
    };
  },
};

for (const [shape, start] of Object.entries(SHAPES)) {
  test(`a collector trickling ${shape}: the export fails at its timeout, said once, and the close does not wait for it`, async () => {
    let posts = 0;
    const tickers: NodeJS.Timeout[] = [];
    const collector = createServer((req, res) => {
      posts++;
      req.resume();
      req.on('end', () => tickers.push(setInterval(start(res), 100)));
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
    const echo = await startEcho();
    const gw = await startTestGateway(gatewayYaml([echo.url], endpoint));
    let closed = false;
    try {
      for (let i = 0; i < 3; i++) assert.equal((await request(gw.url, { path: '/items' })).status, 200);
      await waitUntil('the export failed', () => gw.logs.some((l) => l.msg === 'trace export failed'));
      // A second export, queued behind the one held, then the close: it waited for the held one.
      for (let i = 0; i < 2; i++) assert.equal((await request(gw.url, { path: '/items' })).status, 200);
      const closing = gw.close().then(() => {
        closed = true;
      });
      // A bound on the wait, not a timing: the close took for ever (the collector never finishes).
      await waitUntil('closed', () => closed, 20_000);
      await closing;
    } finally {
      for (const ticker of tickers) clearInterval(ticker);
      collector.closeAllConnections();
      await new Promise<void>((resolve) => collector.close(() => resolve()));
      if (!closed) await gw.close().catch(() => {});
      await echo.close();
    }
    assert.ok(posts >= 1);
    const failed = gw.logs.filter((line) => line.msg === 'trace export failed');
    assert.equal(failed.length, 1, 'said once');
    assert.equal(failed[0].level, 'warn');
    assert.equal(failed[0].error, 'no whole answer from the collector within 1000 ms');
    // The first three requests' spans, two each: all in the first export, or (on a loaded machine,
    // the batch timer firing between them) the first one or two requests' only.
    assert.ok([2, 4, 6].includes(Number(failed[0].spans)), String(failed[0].spans));
  });
}
