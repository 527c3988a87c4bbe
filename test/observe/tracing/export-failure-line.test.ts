/**
 * A collector that refuses the gateway's exports: the one `warn` line says what it answered
 * (its status and the reason in its body), so that an operator reading "trace export failed"
 * knows whether the endpoint is wrong (a 404, a redirect the exporter does not follow), the
 * collector refuses the data (400 and why), or the collector itself is broken (500).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { gatewayYaml } from './collector.ts';

const ANSWERS = [
  { status: 302, headers: { location: 'https://collector.example/v1/traces' }, body: '' },
  { status: 500, headers: { 'content-type': 'text/plain' }, body: 'exporter queue is full' },
  {
    status: 400,
    headers: { 'content-type': 'application/json' },
    body: `{"code":3,"message":"${'x'.repeat(600)}"}`,
  },
];

for (const answer of ANSWERS) {
  test(`a collector answering ${answer.status}: one warn line with its status and reason, the request served`, async () => {
    let posts = 0;
    const collector = createServer((req, res) => {
      posts++;
      req.resume();
      req.on('end', () => res.writeHead(answer.status, answer.headers).end(answer.body));
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
    const echo = await startEcho();
    const gw = await startTestGateway(gatewayYaml([echo.url], endpoint));
    try {
      for (let i = 0; i < 3; i++) assert.equal((await request(gw.url, { path: '/items' })).status, 200);
    } finally {
      await gw.close();
      await echo.close();
      await new Promise<void>((resolve) => collector.close(() => resolve()));
    }
    assert.equal(posts, 1, 'not retried: a redirect and these statuses are final');
    const failed = gw.logs.filter((line) => line.msg === 'trace export failed');
    assert.equal(failed.length, 1, JSON.stringify(gw.logs));
    assert.equal(failed[0].level, 'warn');
    assert.equal(failed[0].status, answer.status);
    assert.equal(failed[0].spans, 6);
    // The collector's reason, cut to 200 characters (a proxy's error page may be long).
    assert.equal(failed[0].reason, answer.body === '' ? undefined : answer.body.slice(0, 200));
  });
}
