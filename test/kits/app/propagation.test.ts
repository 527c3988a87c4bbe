/**
 * Each request `candor/app` hands to the app runs inside its propagation context: a call made
 * while serving it with `candor/client` carries the request's id and trace context, across
 * awaits, without mixing two requests served at once.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { serveApp } from '../../../src/kits/app/index.ts';
import { createFetch } from '../../../src/kits/client/index.ts';
import { currentPropagation } from '../../../src/kits/client/propagation.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** The app's own outgoing calls, made with `candor/client` (one per app, as its README says). */
const outgoing = createFetch();

async function callService(url: string): Promise<Record<string, string>> {
  const answer = await outgoing(url);
  return (await answer.json()) as Record<string, string>;
}

/** A service the app calls: answers with the propagation headers it received. */
async function startService(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const seen: Record<string, string> = {};
    for (const name of ['x-request-id', 'traceparent', 'tracestate']) {
      const value = req.headers[name];
      if (typeof value === 'string') seen[name] = value;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(seen));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function startCallingApp(serviceUrl: string) {
  return serveApp(
    async (req, res) => {
      // Hops the context must survive: a timer (longer for the first request, so that two
      // requests served at once interleave) and the call itself.
      await new Promise((resolve) => setTimeout(resolve, req.url === '/slow' ? 50 : 5));
      const seen = await callService(serviceUrl);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ seen, context: currentPropagation() ?? null }));
    },
    { host: '127.0.0.1', signals: [], exit: false, log: false, shutdown: { delay: 0, timeout: 1000 } },
  );
}

test('a call made while serving a request carries its x-request-id, traceparent and tracestate; two at once do not mix', async () => {
  const service = await startService();
  const app = await startCallingApp(service.url);
  const base = `http://127.0.0.1:${app.port}`;
  try {
    await app.ready;
    const [slow, fast] = await Promise.all([
      request(base, {
        path: '/slow',
        headers: { 'x-request-id': 'req-slow-1', traceparent: TRACEPARENT, tracestate: 'vendor=abc' },
      }),
      request(base, { path: '/fast', headers: { 'x-request-id': 'req-fast-2' } }),
    ]);
    assert.deepEqual(JSON.parse(slow.text), {
      seen: { 'x-request-id': 'req-slow-1', traceparent: TRACEPARENT, tracestate: 'vendor=abc' },
      context: { requestId: 'req-slow-1', traceparent: TRACEPARENT, tracestate: 'vendor=abc' },
    });
    assert.deepEqual(JSON.parse(fast.text), {
      seen: { 'x-request-id': 'req-fast-2' },
      context: { requestId: 'req-fast-2' },
    });
    assert.equal(currentPropagation(), undefined, 'nothing outside a request');
  } finally {
    await app.app.shutdown();
    await service.close();
  }
});

test('what could not be passed on as it came is left out: a malformed traceparent (and its tracestate), an unsafe id', async () => {
  const service = await startService();
  const app = await startCallingApp(service.url);
  const base = `http://127.0.0.1:${app.port}`;
  try {
    await app.ready;
    const cases: [Record<string, string>, object][] = [
      [{ 'x-request-id': 'has space', traceparent: 'nonsense', tracestate: 'vendor=abc' }, {}],
      [{ traceparent: TRACEPARENT.replace(/^00/, 'ff') }, {}],
      [{ traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` }, {}],
      [{ tracestate: 'vendor=abc' }, {}],
      [{ 'x-request-id': 'ok.id:1' }, { requestId: 'ok.id:1' }],
    ];
    for (const [headers, context] of cases) {
      const answer = JSON.parse((await request(base, { path: '/', headers })).text);
      assert.deepEqual(answer.context, context, JSON.stringify(headers));
    }
  } finally {
    await app.app.shutdown();
    await service.close();
  }
});

test('behind a real Candor: the app passes on the request id the gateway logged and the trace it continued', async () => {
  const service = await startService();
  const app = await startCallingApp(service.url);
  const gateway = await startTestGateway(`
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:${app.port}" }]
`);
  try {
    await app.ready;
    const answer = await request(gateway.url, {
      path: '/through',
      headers: { traceparent: TRACEPARENT, tracestate: 'vendor=abc' },
    });
    assert.equal(answer.status, 200);
    const requestId = answer.headers['x-request-id'];
    assert.equal(typeof requestId, 'string');
    const { seen } = JSON.parse(answer.text);
    assert.equal(seen['x-request-id'], requestId, 'the id the gateway gave the request');
    assert.equal(
      (await gateway.logFor(requestId as string)).status,
      200,
      "the gateway's log line of that id",
    );
    // The same trace, with the gateway's span as the parent.
    assert.match(seen.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    assert.notEqual(seen.traceparent, TRACEPARENT);
    assert.equal(seen.tracestate, 'vendor=abc');
  } finally {
    await gateway.close();
    await app.app.shutdown();
    await service.close();
  }
});
