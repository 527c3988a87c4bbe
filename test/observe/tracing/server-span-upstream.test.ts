/**
 * The gateway's own answers on a route to an upstream, with no attempt made (the upstream's
 * maintenance 503, its open circuit's 503, the route's rate limit 429): Proxy-Status names the
 * upstream (`next-hop`) and so does the log line (`upstream`), but the trace had no word of it,
 * `candor.upstream` being on the attempts' spans alone: a search for the traces of the upstream
 * whose circuit was open found none of the requests it turned away. The server span names it.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { KIND, startCollector } from './collector.ts';

/** A port nothing listens on: one the system gave, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test("the gateway's own answer for an upstream it never tried: the server span names the upstream, as Proxy-Status and the log line do", async () => {
  const collector = await startCollector();
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - name: items
    match: { path: /items }
    upstream: app
    rate_limit: { rate: 0.000001, burst: 1 }
  - name: down
    match: { path: /down }
    upstream: resting
  - name: broken
    match: { path: /broken }
    upstream: refusing
upstreams:
  app:
    targets:
      - url: ${echo.url}
  resting:
    targets:
      - url: ${echo.url}
    maintenance: { retry_after: 30s }
  refusing:
    targets:
      - url: http://127.0.0.1:${await closedPort()}
    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 1, open_time: 60s }
tracing:
  otlp_endpoint: ${collector.endpoint}
`);
  const asked: Array<[id: string, status: number, nextHop: string | undefined]> = [];
  try {
    for (const [path, id] of [
      ['/items/1', 'forwarded'],
      ['/items/2', 'limited'],
      ['/down/3', 'maintenance'],
      ['/broken/4', 'refused'],
      ['/broken/5', 'circuit-open'],
    ]) {
      const res = await request(gw.url, { path, headers: { 'x-request-id': id } });
      asked.push([id, res.status, /next-hop="([^"]*)"/.exec(String(res.headers['proxy-status']))?.[1]]);
    }
    for (const [id] of asked) await gw.logFor(id);
  } finally {
    await gw.close();
    await echo.close();
    await collector.close();
  }
  const told = await Promise.all(
    asked.map(async ([id, status, nextHop]) => {
      const line = await gw.logFor(id);
      const span = collector.spans.find(
        (s) => s.kind === KIND.server && s.attributes['candor.request_id'] === id,
      );
      return [id, status, nextHop, line.upstream, span?.attributes['candor.upstream']];
    }),
  );
  assert.deepEqual(told, [
    ['forwarded', 200, undefined, 'app', 'app'],
    ['limited', 429, 'app', 'app', 'app'],
    ['maintenance', 503, 'resting', 'resting', 'resting'],
    ['refused', 502, 'refusing', 'refusing', 'refusing'],
    ['circuit-open', 503, 'refusing', 'refusing', 'refusing'],
  ]);
});
