/**
 * /metrics through a real gateway, on real sockets, with real misbehaving upstreams: every
 * assertion names the exact series (all its labels) and its exact value.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startResetBeforeHead } from '../../../src/kits/fault-kit/reset-faults.ts';
import { startSwitchable } from '../../../src/kits/fault-kit/switchable.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { METRICS } from '../../../src/observe/metrics/catalog.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';
import { named, type Sample, samples, sampleValue, scrape } from './scrape.ts';

const gateway = (targets: string[], extra = '') =>
  startTestGateway(`name: edge-1
metrics:
  listen: 127.0.0.1:0
routes:
  - name: api
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
${targets.map((url) => `      - url: ${url}`).join('\n')}
${extra}`);

async function scraped(gw: TestGateway): Promise<Sample[]> {
  const port = gw.gateway.metricsPort();
  assert.ok(port !== undefined, 'the gateway serves metrics');
  const { status, contentType, text } = await scrape(port);
  assert.equal(status, 200);
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  return samples(text);
}

function expectValue(all: Sample[], name: string, labels: Record<string, string>, value: number): void {
  assert.equal(
    sampleValue(all, name, labels),
    value,
    `${name}${JSON.stringify(labels)}; have:\n${named(all, name)}`,
  );
}

test('a refused upstream: the gateway made the 502, connection_refused, and the attempt says so', async () => {
  const refusing = await startRefusing();
  const gw = await gateway([refusing.url], '    retries: { attempts: 1 }');
  try {
    const res = await request(gw.url, { path: '/x' });
    assert.equal(res.status, 502);
    await gw.accessLine(1);
    const all = await scraped(gw);
    const target = new URL(refusing.url).origin;
    expectValue(
      all,
      'candor_responses_total',
      { route: 'api', code: '502', origin: 'gateway', error_type: 'connection_refused' },
      1,
    );
    expectValue(
      all,
      'candor_upstream_attempts_total',
      { upstream: 'app', target, outcome: 'connection_refused', reused_connection: 'false' },
      1,
    );
    // One attempt allowed: the failure was not retried, for that reason.
    expectValue(all, 'candor_retries_skipped_total', { upstream: 'app', why: 'attempts' }, 1);
    expectValue(
      all,
      'http_server_request_duration_seconds_count',
      {
        http_route: 'api',
        http_request_method: 'GET',
        http_response_status_code: '502',
        error_type: 'connection_refused',
      },
      1,
    );
    expectValue(
      all,
      'http_client_request_duration_seconds_count',
      {
        upstream: 'app',
        target,
        http_request_method: 'GET',
        http_response_status_code: '',
        error_type: 'connection_refused',
      },
      1,
    );
    // No connection was made: nothing to time.
    assert.equal(named(all, 'candor_upstream_connect_duration_seconds_count'), '');
  } finally {
    await gw.close();
    await refusing.close();
  }
});

test("an upstream's own 503: origin upstream, no error type, and its timings", async () => {
  const echo = await startEcho();
  const gw = await gateway([echo.url]);
  try {
    const res = await request(gw.url, { path: '/x?status=503&retry_after=5', method: 'PUT', body: 'a' });
    assert.equal(res.status, 503);
    await gw.accessLine(1);
    const all = await scraped(gw);
    const target = new URL(echo.url).origin;
    expectValue(
      all,
      'candor_responses_total',
      { route: 'api', code: '503', origin: 'upstream', error_type: '' },
      1,
    );
    expectValue(
      all,
      'candor_upstream_attempts_total',
      { upstream: 'app', target, outcome: 'response', reused_connection: 'false' },
      1,
    );
    const server = {
      http_route: 'api',
      http_request_method: 'PUT',
      http_response_status_code: '503',
      error_type: '',
    };
    expectValue(all, 'http_server_request_duration_seconds_count', server, 1);
    // The histogram is cumulative and ends with +Inf, as Prometheus expects.
    expectValue(all, 'http_server_request_duration_seconds_bucket', { ...server, le: '+Inf' }, 1);
    expectValue(all, 'http_server_request_duration_seconds_bucket', { ...server, le: '10' }, 1);
    expectValue(
      all,
      'http_client_request_duration_seconds_count',
      {
        upstream: 'app',
        target,
        http_request_method: 'PUT',
        http_response_status_code: '503',
        error_type: '',
      },
      1,
    );
    expectValue(all, 'candor_upstream_connect_duration_seconds_count', { upstream: 'app', target }, 1);
    expectValue(all, 'candor_upstream_time_to_first_byte_seconds_count', { upstream: 'app', target }, 1);
    // Nothing failed, so nothing was retried or skipped.
    assert.equal(named(all, 'candor_retries_total'), '');
    assert.equal(named(all, 'candor_retries_skipped_total'), '');
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a retry made (refused, then answered) and one skipped (a POST the upstream reset)', async () => {
  const refusing = await startRefusing();
  const resetting = await startResetBeforeHead();
  const echo = await startEcho();
  // Round robin starts with the first target: each request meets the fault first.
  const made = await gateway([refusing.url, echo.url]);
  const skipped = await gateway([resetting.url, echo.url]);
  try {
    assert.equal((await request(made.url, { path: '/a' })).status, 200);
    await made.accessLine(1);
    const first = await scraped(made);
    expectValue(
      first,
      'candor_retries_total',
      { upstream: 'app', reason: 'connection_refused', result: 'response' },
      1,
    );
    expectValue(
      first,
      'candor_responses_total',
      { route: 'api', code: '200', origin: 'upstream', error_type: '' },
      1,
    );
    expectValue(
      first,
      'candor_upstream_attempts_total',
      {
        upstream: 'app',
        target: new URL(refusing.url).origin,
        outcome: 'connection_refused',
        reused_connection: 'false',
      },
      1,
    );

    const post = await request(skipped.url, { path: '/b', method: 'POST', body: 'order=1' });
    assert.equal(post.status, 502);
    await skipped.accessLine(1);
    const second = await scraped(skipped);
    expectValue(second, 'candor_retries_skipped_total', { upstream: 'app', why: 'not_idempotent' }, 1);
    expectValue(
      second,
      'candor_responses_total',
      { route: 'api', code: '502', origin: 'gateway', error_type: 'connection_terminated' },
      1,
    );
    assert.equal(named(second, 'candor_retries_total'), '');
  } finally {
    await Promise.all([made.close(), skipped.close()]);
    await Promise.all([refusing.close(), resetting.close(), echo.close()]);
  }
});

test('a health transition: probes fail, the target goes unhealthy, the gauges follow', async () => {
  // Closed mid-test to refuse: on a port no other test file's listen(0) is given meanwhile.
  const echo = await startEcho({ port: await freePort() });
  const target = new URL(echo.url).origin;
  const gw = await gateway(
    [echo.url],
    '    health_check: { path: /health, interval: 50ms, timeout: 500ms, fall: 2, rise: 1 }',
  );
  try {
    await echo.close();
    const deadline = Date.now() + 5000;
    let all = await scraped(gw);
    while (sampleValue(all, 'candor_target_healthy', { upstream: 'app', target }) !== 0) {
      assert.ok(
        Date.now() < deadline,
        `the target never went unhealthy:\n${named(all, 'candor_target_healthy')}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      all = await scraped(gw);
    }
    expectValue(all, 'candor_health_transitions_total', { upstream: 'app', target, to: 'unhealthy' }, 1);
    const failed = sampleValue(all, 'candor_health_checks_total', {
      upstream: 'app',
      target,
      result: 'failure',
      error_type: 'connection_refused',
    });
    assert.ok(failed !== undefined && failed >= 2, `failed probes: ${failed}`);
    // The upstream-wide circuit is closed (no request failed); the target's own is too (not ejected).
    expectValue(all, 'candor_circuit_state', { upstream: 'app', target: '', state: 'closed' }, 1);
    expectValue(all, 'candor_circuit_state', { upstream: 'app', target: '', state: 'open' }, 0);
    expectValue(all, 'candor_circuit_state', { upstream: 'app', target, state: 'closed' }, 1);
    expectValue(all, 'candor_target_ejected', { upstream: 'app', target }, 0);
  } finally {
    await gw.close();
  }
});

test('an ejection and a return: the counter and the gauge say so; so do the checks of a target that comes back', async () => {
  const upstream = await startSwitchable();
  upstream.setMode('reset');
  const target = new URL(upstream.url).origin;
  const gw = await gateway(
    [upstream.url],
    `    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 2, base_ejection_time: 200ms }
    health_check: { path: /health, interval: 50ms, timeout: 500ms, fall: 2, rise: 2 }`,
  );
  /** Scrapes until `done` holds (bounded: 5 s). */
  const until = async (what: string, done: (all: Sample[]) => boolean): Promise<Sample[]> => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const all = await scraped(gw);
      if (done(all)) return all;
      assert.ok(Date.now() < deadline, `${what}:\n${named(all, 'candor_target_ejected')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  try {
    // Requests eject it (passive), while its checks take it out of rotation too (active).
    await request(gw.url, { path: '/a' });
    await request(gw.url, { path: '/b' });
    let all = await until(
      'ejected',
      (a) => sampleValue(a, 'candor_target_ejected', { upstream: 'app', target }) === 1,
    );
    expectValue(all, 'candor_target_ejections_total', { upstream: 'app', target }, 1);
    all = await until(
      'unhealthy',
      (a) => sampleValue(a, 'candor_target_healthy', { upstream: 'app', target }) === 0,
    );
    expectValue(all, 'candor_health_transitions_total', { upstream: 'app', target, to: 'unhealthy' }, 1);
    // Back: `rise` good probes put it in rotation; its ejection ran out and nothing renewed it.
    upstream.setMode('ok');
    all = await until(
      'healthy again',
      (a) => sampleValue(a, 'candor_target_healthy', { upstream: 'app', target }) === 1,
    );
    expectValue(all, 'candor_health_transitions_total', { upstream: 'app', target, to: 'healthy' }, 1);
    expectValue(all, 'candor_health_transitions_total', { upstream: 'app', target, to: 'unhealthy' }, 1);
    assert.equal((await request(gw.url, { path: '/c' })).status, 200);
    all = await until(
      'no longer ejected',
      (a) => sampleValue(a, 'candor_target_ejected', { upstream: 'app', target }) === 0,
    );
    expectValue(all, 'candor_target_ejections_total', { upstream: 'app', target }, 1);
    assert.equal(gw.logs.filter((l) => l.msg === 'target down').length, 1);
    assert.equal(gw.logs.filter((l) => l.msg === 'target up').length, 1);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('the runtime gauges and the config info are there with exact labels', async () => {
  const echo = await startEcho();
  const gw = await gateway([echo.url]);
  try {
    const all = await scraped(gw);
    expectValue(all, 'candor_upstream_requests_in_flight', { upstream: 'app' }, 0);
    expectValue(all, 'candor_upstream_requests_pending', { upstream: 'app' }, 0);
    // Envoy's floor of 3 concurrent retries, plus the 10 a second of the rate floor.
    expectValue(all, 'candor_retry_budget_remaining', { upstream: 'app' }, 13);
    expectValue(all, 'candor_client_connections', { listener: '127.0.0.1:0' }, 0);
    const info = all.filter((s) => s.name === 'candor_config_info');
    assert.equal(info.length, 1);
    assert.equal(info[0].labels.name, 'edge-1');
    // The same identity the admin API's /status shows for the running config.
    assert.equal(info[0].labels.hash, gw.gateway.configHash());
    assert.equal(info[0].value, 1);
    expectValue(all, 'candor_config_reloads_total', { result: 'success' }, 0);
    // Every metric of the catalog is declared in the exposition, used or not.
    const text = (await scrape(gw.gateway.metricsPort() as number)).text;
    for (const spec of Object.values(METRICS))
      assert.match(text, new RegExp(`^# TYPE ${spec.name} ${spec.type}$`, 'm'));
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('labels never carry what a client sent: an unknown method is _OTHER, an unrouted path has no route', async () => {
  // Refused at the door (501) before routing: no route either.
  const echo = await startEcho();
  const gw = await startTestGateway(`metrics:
  listen: 127.0.0.1:0
routes:
  - match: { path: /api }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  try {
    assert.equal((await request(gw.url, { path: '/api/x', method: 'FROB' })).status, 501);
    assert.equal((await request(gw.url, { path: '/elsewhere/secret-42' })).status, 404);
    await gw.accessLine(2);
    const all = await scraped(gw);
    expectValue(
      all,
      'http_server_request_duration_seconds_count',
      {
        http_route: '',
        http_request_method: '_OTHER',
        http_response_status_code: '501',
        error_type: 'http_request_error',
      },
      1,
    );
    expectValue(
      all,
      'candor_responses_total',
      { route: '', code: '404', origin: 'gateway', error_type: 'destination_not_found' },
      1,
    );
    const text = (await scrape(gw.gateway.metricsPort() as number)).text;
    assert.doesNotMatch(text, /secret-42|FROB|elsewhere/);
  } finally {
    await gw.close();
    await echo.close();
  }
});
