/**
 * Every answer the metrics listener makes says `Cache-Control: no-store` (a scrape is the
 * moment's counts, and a 404 or a 503 is no page to keep) and `X-Content-Type-Options: nosniff`
 * (a 503 quotes a failure's message: read as text only), as the admin API's answers do. Its 404,
 * 405 and 503 had neither, its 200 only the first.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { startMetricsListener } from '../../../src/observe/metrics/metrics-listener.ts';
import { createHostCheck } from '../../../src/server/gateway/host-check.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

let gw: TestGateway;
let port: number;

before(async () => {
  gw = await startTestGateway(`
metrics: { listen: 127.0.0.1:0 }
routes:
  - { match: { path: /api }, upstream: app }
upstreams:
  app: { targets: [{ url: http://127.0.0.1:9 }] }
`);
  port = gw.gateway.metricsPort() as number;
});

after(() => closeAll(gw));

/** The status and the head's fields (lower-case names) of one request to `listenerPort`. */
async function ask(listenerPort: number, method: string, path: string) {
  const { raw } = await rawRequest(
    listenerPort,
    `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
  );
  const head = raw.slice(0, raw.indexOf('\r\n\r\n')).split('\r\n');
  const fields = new Map<string, string>();
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    fields.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(head[0].split(' ')[1]), fields, raw };
}

function assertOwnFields(fields: Map<string, string>, what: string): void {
  assert.equal(fields.get('cache-control'), 'no-store', what);
  assert.equal(fields.get('x-content-type-options'), 'nosniff', what);
}

test('a scrape, its HEAD and a path the listener does not serve: no-store and nosniff', async () => {
  const scrape = await ask(port, 'GET', '/metrics');
  assert.equal(scrape.status, 200, scrape.raw.slice(0, 300));
  assert.match(scrape.raw, /candor_config_info\{/);
  assertOwnFields(scrape.fields, 'GET /metrics');

  const head = await ask(port, 'HEAD', '/metrics');
  assert.equal(head.status, 200);
  assertOwnFields(head.fields, 'HEAD /metrics');

  const missing = await ask(port, 'GET', '/nowhere');
  assert.equal(missing.status, 404);
  assert.equal(missing.fields.get('content-type'), 'text/plain; charset=utf-8');
  assertOwnFields(missing.fields, 'GET /nowhere');

  const refused = await ask(port, 'POST', '/metrics');
  assert.equal(refused.status, 405);
  assert.equal(refused.fields.get('allow'), 'GET, HEAD');
  assertOwnFields(refused.fields, 'POST /metrics');
});

test('a scrape that fails is a 503 with no-store and nosniff: it quotes the failure', async () => {
  const listener = await startMetricsListener(
    { host: '127.0.0.1', port: 0 },
    () => Promise.reject(new Error('worker 2 did not answer in 5000 ms <script>')),
    createHostCheck('127.0.0.1', []),
    () => {},
  );
  try {
    const { status, fields, raw } = await ask(listener.port(), 'GET', '/metrics');
    assert.equal(status, 503);
    assert.equal(fields.get('content-type'), 'text/plain; charset=utf-8');
    assertOwnFields(fields, 'a failed scrape');
    assert.ok(
      raw.endsWith('\r\n\r\nmetrics unavailable: worker 2 did not answer in 5000 ms <script>\n'),
      raw,
    );
  } finally {
    await listener.close();
  }
});

test('a connection that pipelines scrapes without reading is closed past 8 waiting (each would ask every worker), and said', async () => {
  const closed: number[] = [];
  const listener = await startMetricsListener(
    { host: '127.0.0.1', port: 0 },
    async () => ({ contentType: 'text/plain; version=0.0.4', text: 'x 1\n' }),
    createHostCheck('127.0.0.1', []),
    (_who, pipelined) => closed.push(pipelined),
  );
  try {
    const socket = connect(listener.port(), '127.0.0.1');
    socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(20));
    let raw = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => {
      raw += chunk;
    });
    await new Promise((resolve) => socket.on('close', resolve));
    const answered = raw.split('HTTP/1.1 200 ').length - 1;
    assert.ok(answered <= 8, `${answered} scrapes answered`);
    assert.deepEqual(closed, [9]);
  } finally {
    await listener.close();
  }
});
