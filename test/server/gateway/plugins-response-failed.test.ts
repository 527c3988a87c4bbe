/**
 * A plugin fails in onResponse, after the route's upstream answered. What the gateway says of
 * it must not hide that answer nor blame the upstream for the plugin's failure:
 * - a plugin's bug is a 500 whose Proxy-Status carries the status received from the upstream
 *   (RFC 9209 §2.1.2 `received-status`: an upstream's 503 is not hidden behind the 500), whose
 *   body says the upstream answered (never "the upstream was not at fault" of a 503), and whose
 *   log line lists the attempt with that status;
 * - the upstream's attempt is counted as the response it was (candor_upstream_attempts_total
 *   `outcome="response"`, its duration under its status with no error type), for a bug as for a
 *   hop the plugin's `context.fetch` asked that failed;
 * - a hop's failure let out after the upstream answered is not flagged UF (the upstream's
 *   connection failure) beside `upstream: "app"`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createFetch } from '../../../src/kits/client/index.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';
import { type Sample, samples, scrape } from '../../observe/metrics/scrape.ts';

const failing: Plugin = (_options, context) => ({
  async onResponse(_response, request) {
    if (request.path === '/threw') throw new Error('a bug after the upstream answered');
    if (request.path === '/hop') await context.fetch('svc', '/audit', { request });
  },
});

/** The sum of the samples named `name` whose labels include `labels`. */
function sum(all: Sample[], name: string, labels: Record<string, string>): number {
  return all
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

describe('a plugin that fails in onResponse says what the upstream answered, and blames it for nothing', () => {
  let app: Fault;
  let gw: TestGateway;
  let target: string;
  before(async () => {
    app = await startEcho();
    target = new URL(app.url).origin;
    const nobody = await freePort();
    gw = await startTestGateway(
      `metrics:
  listen: 127.0.0.1:0
plugins:
  failing: { module: /nonexistent/failing.ts }
routes:
  - { name: r, match: { path: / }, upstream: app, plugins: [failing] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  svc: { targets: [{ url: "http://127.0.0.1:${nobody}" }] }
`,
      {},
      '',
      { plugins: { failing } },
    );
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  test("a bug on the upstream's 503: a 500 with received-status=503, its body and log line saying the upstream answered", async () => {
    const res = await request(gw.url, {
      path: '/threw?status=503&retry_after=7',
      headers: { accept: 'application/problem+json' },
      timeoutMs: 5000,
    });
    assert.equal(res.status, 500);
    assert.equal(
      res.headers['proxy-status'],
      'candor; error=proxy_internal_error; received-status=503; details="plugin:failing threw in onResponse"; next-hop="app"',
    );
    const problem = JSON.parse(res.body.toString());
    assert.equal(problem.status, 500);
    assert.doesNotMatch(problem.detail, /not at fault/);
    assert.equal(
      problem.detail,
      'The gateway "candor" hit an internal error on the answer of the upstream "app" (its status 503): the upstream answered, the gateway failed on its answer.',
    );
    const line = await gw.logFor(String(res.headers['x-request-id']));
    assert.deepEqual(
      [line.status, line.error, line.attempts, line.tries],
      [
        500,
        'proxy_internal_error',
        1,
        [{ target, status: 503, stage: 'head_received', ms: (line.tries as { ms: number }[])[0].ms }],
      ],
    );
  });

  test('a bug on any answer: received-status is its status', async () => {
    const res = await request(gw.url, { path: '/threw', timeoutMs: 5000 });
    assert.equal(res.status, 500);
    assert.equal(
      res.headers['proxy-status'],
      'candor; error=proxy_internal_error; received-status=200; details="plugin:failing threw in onResponse"; next-hop="app"',
    );
  });

  test("a hop's failure after the upstream answered: not flagged as the upstream's, its attempt's duration a response's", async () => {
    const before = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    const res = await request(gw.url, { path: '/hop', timeoutMs: 5000 });
    assert.equal(res.status, 502);
    // Its next hop is the service, which gave no status: no received-status (RFC 9209's is the next
    // hop's). App's 200 is in Candor's own parameter: the request was delivered.
    assert.match(
      String(res.headers['proxy-status']),
      /^candor; error=connection_refused; candor-upstream-status=200; details="[^"]*"; next-hop="svc"$/,
    );
    const line = await gw.logFor(String(res.headers['x-request-id']));
    assert.deepEqual([line.upstream, line.plugin_hop, line.error], ['app', 'svc', 'connection_refused']);
    // UF says the upstream's connection failed: beside `upstream: "app"`, app's fault.
    assert.equal(line.flag, 'PHF');
    const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    const durations = (labels: Record<string, string>) =>
      sum(all, 'http_client_request_duration_seconds_count', { upstream: 'app', target, ...labels }) -
      sum(before, 'http_client_request_duration_seconds_count', { upstream: 'app', target, ...labels });
    assert.deepEqual(
      [
        durations({ http_response_status_code: '200', error_type: '' }),
        durations({ error_type: 'connection_refused' }),
      ],
      [1, 0],
    );
  });

  test("a bug on the upstream's answer: its attempt counted as the response it was", async () => {
    const before = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    const res = await request(gw.url, { path: '/threw', timeoutMs: 5000 });
    assert.equal(res.status, 500);
    await gw.logFor(String(res.headers['x-request-id']));
    const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    const grown = (name: string, labels: Record<string, string>) =>
      sum(all, name, { upstream: 'app', target, ...labels }) -
      sum(before, name, { upstream: 'app', target, ...labels });
    assert.deepEqual(
      [
        grown('candor_upstream_attempts_total', { outcome: 'response' }),
        grown('candor_upstream_attempts_total', { outcome: 'proxy_internal_error' }),
        grown('http_client_request_duration_seconds_count', {
          http_response_status_code: '200',
          error_type: '',
        }),
        grown('http_client_request_duration_seconds_count', { error_type: 'proxy_internal_error' }),
      ],
      [1, 0, 1, 0],
    );
  });

  // `connection_refused` alone reads as a request that reached nothing: candor/client resent a
  // POST the upstream had acted on, once per attempt (3 POSTs for one call).
  test("candor/client does not resend a POST whose upstream answered before the plugin's hop failed", async () => {
    const from = app.received.length;
    const api = createFetch({ attempts: 3 });
    const res = await api(`${gw.url}/hop`, { method: 'POST', body: 'order' });
    assert.equal(res.status, 502);
    await res.arrayBuffer();
    assert.equal(app.received.length - from, 1);
  });
});

describe("a retry answered, on whose answer a plugin's onResponse threw", () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
    const nobody = await freePort();
    gw = await startTestGateway(
      `metrics:
  listen: 127.0.0.1:0
plugins:
  failing: { module: /nonexistent/failing.ts }
routes:
  - { name: r, match: { path: / }, upstream: app, plugins: [failing] }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:${nobody}" }, { url: ${app.url} }]
    outlier_detection: { consecutive_failures: 0 }
`,
      {},
      '',
      { plugins: { failing } },
    );
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  test("candor_retries_total's result is the response it got", async () => {
    // Round robin over two targets: half the requests meet the refusing one first, and are retried.
    for (let i = 0; i < 4; i++) {
      const res = await request(gw.url, { path: '/threw', timeoutMs: 5000 });
      assert.equal(res.status, 500, `request ${i + 1}`);
      await gw.logFor(String(res.headers['x-request-id']));
    }
    const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    const retries = (result: string) =>
      sum(all, 'candor_retries_total', { upstream: 'app', reason: 'connection_refused', result });
    assert.deepEqual([retries('response'), retries('proxy_internal_error')], [2, 0]);
  });
});
