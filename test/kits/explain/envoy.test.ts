/**
 * Envoy's default access log and Istio's (text and JSON): the fixtures are built from the
 * documentation (fixtures/write-envoy-fixtures.ts), one traffic in three formats: cart's pods
 * refuse connections for 3 s (a storm of UF 503s), and one request to api ends with each
 * response flag in turn.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFlags } from '../../../src/kits/explain/readers/envoy-flags.ts';
import { envoyReader, istioReader } from '../../../src/kits/explain/readers/envoy-reader.ts';
import { explain, fixture, lines, renderNamed, typeCounts } from './explain-fixture.ts';

test("Envoy's default format: the flags give the failure, lossy where UF hides the cause", async () => {
  const report = await explain([fixture('envoy.log')]);
  assert.equal(renderNamed(report), EXPECTED);
});

test("Istio's details refine the flags: a connect timeout, a bad certificate, a cut response", async () => {
  const report = await explain([fixture('istio.log')]);
  assert.deepEqual(typeCounts(report), {
    connection_refused: 31, // the storm, and one UF whose details say refused
    connection_timeout: 2, // UF {connection_timeout}, and LR as Envoy maps it
    tls_certificate_error: 1,
    tls_protocol_error: 1,
    dns_error: 1,
    http_response_timeout: 3, // UT, SI, UMSDR
    connection_terminated: 2, // UC, UR before the head
    http_response_incomplete: 1, // UR after the head was sent on (logged 200)
    http_protocol_error: 1,
    destination_unavailable: 3, // UH, LH, NC (URX on the upstream's own 503 is none)
    proxy_internal_response: 3, // FI, OM, DO
    connection_limit_reached: 2, // UO, RLSE
    http_request_denied: 2, // RL, UAEX
    destination_not_found: 1,
    http_request_error: 2,
    proxy_internal_error: 1,
  });
  assert.equal(
    report.upstreamOwn5xx,
    2,
    'the 503 passed through, and the one retried (URX) and passed through',
  );
  assert.equal(report.clientAborted, 1);
  assert.deepEqual(
    report.storms.map((s) => [s.upstream, s.errors, s.types]),
    [['outbound|8080||cart.shop.svc.cluster.local', 30, [{ type: 'connection_refused', count: 30 }]]],
  );
});

test('the request id, who made the status and the wait come from the line', () => {
  const istio = lines('istio.log');
  const refused = istioReader.read(istio.find((l) => l.includes('delayed_connect_error:_111')) ?? '');
  assert.deepEqual(refused, {
    kind: 'request',
    time: Date.parse('2026-11-21T13:11:05.001Z'),
    status: 503,
    upstream: 'outbound|8080||cart.shop.svc.cluster.local',
    target: '10.44.1.27:8080',
    requestId: '7c1c9f4e-0d3a-4b8e-9f21-000000000033',
    failure: 'connection_refused',
    waitMs: undefined,
    clientAborted: undefined,
    producedBy: 'proxy',
  });
  const ok = istioReader.read(istio[0]);
  assert.equal(ok?.kind === 'request' && ok.producedBy, 'upstream');
  assert.equal(ok?.kind === 'request' && ok.waitMs, 2);
  const timedOut = envoyReader.read(lines('envoy.log').find((l) => / 504 UT /.test(l)) ?? '');
  assert.equal(timedOut?.kind === 'request' && timedOut.waitMs, 15_000, 'a timeout waited its DURATION');
  assert.equal(timedOut?.kind === 'request' && timedOut.producedBy, 'proxy');
});

test("Istio's JSON encoding reads the same as its text", async () => {
  const text = await explain([fixture('istio.log')]);
  const json = await explain([fixture('istio-json.log')]);
  assert.equal(json.files[0].format, 'envoy-json');
  assert.deepEqual({ ...json, files: [], notes: [] }, { ...text, files: [], notes: [] });
});

test('flags map as Envoy maps them to Proxy-Status, first in its order', () => {
  const flag = (flags: string, details?: string) => readFlags(flags, details).failure;
  assert.equal(flag('UF,URX'), 'connection_refused');
  assert.equal(
    flag(
      'UF',
      'upstream_reset_before_response_started{remote_connection_failure,delayed_connect_error:_113}',
    ),
    'destination_ip_unroutable',
  );
  assert.equal(flag('UH'), 'destination_unavailable');
  assert.equal(flag('UT,URX'), 'http_response_timeout');
  assert.equal(flag('NR'), 'destination_not_found');
  assert.equal(flag('DC'), undefined);
  assert.equal(flag('DI'), undefined);
  assert.equal(flag('-'), undefined);
  assert.equal(readFlags('DC').clientAborted, true);
  assert.equal(readFlags('DI').proxyMade, false);
});

const EXPECTED = `candor explain: 171 requests, 2026-11-21 13:11:00.0 → 13:11:13.9 UTC (13.9 s)
  envoy.log  envoy  171 lines  171 parsed  0 skipped  171 records

Statuses
  none    1   0.6%
  200   112  65.5%
  400     2   1.2%
  403     1   0.6%
  404     1   0.6%
  429     1   0.6%
  500     2   1.2%
  502     1   0.6%
  503    47  27.5%
  504     3   1.8%

Failures by shape and type
                                                 count    status  logged as    where
  unreachable: the upstream is not there            36
    connection_refused                              34       502  503×34       cart.shop:8080 (30), api.shop:8080 (4)
    connection_timeout                               1       504  503×1        api.shop:8080 (1)
    dns_error                                        1       502  503×1        api.shop:8080 (1)
  slow: the upstream is too slow                     3
    http_response_timeout                            3       504  504×3        api.shop:8080 (3)
  reset: the upstream is crashing                    3
    connection_terminated                            3       502  200×1 503×2  api.shop:8080 (3)
  garbage: something else is on that port            1
    http_protocol_error                              1       502  502×1        api.shop:8080 (1)
  gateway: the gateway answered on its own          12
    destination_unavailable                          4       503  503×4        api.shop:8080 (4)
    proxy_internal_response                          3       503  503×3        api.shop:8080 (3)
    connection_limit_reached                         2       503  500×1 503×1  api.shop:8080 (2)
    http_request_denied                              2  403, 429  403×1 429×1  api.shop:8080 (2)
    destination_not_found                            1       404  404×1        api.shop:8080 (1)
  client: the clients' own doing                     2
    http_request_error                               2       400  400×2        api.shop:8080 (2)
  internal: a bug in the gateway                     1
    proxy_internal_error                             1       500  500×1        api.shop:8080 (1)
  5xx, cause unknown (no failure in these logs)      1
  client left before the answer                      1

Who made the 5xx
                    made by the proxy  passed through from the upstream  cannot tell
  envoy.log  envoy                 52                                 0            1
  cannot tell: the log does not say whether the proxy or the upstream answered (see Notes); explain does not guess

Refused (401, 403) by route and method
  route  method  401  403  by the gateway
  -      -         0    1               ?
  by the gateway: its access rules answered (the log's auth: denied); the rest are the upstream's own
  ?: the log does not say whether the gateway or the upstream refused

Upstreams
                  requests  5xx  failures  first       last        mostly
  cart.shop:8080       140   30        30  13:11:05.0  13:11:07.9  connection_refused
  api.shop:8080         31   23        24  13:11:00.2  13:11:12.2  connection_refused

Targets
                   requests  5xx  failures  first       last        mostly
  10.44.1.27:8080        70   15        15  13:11:05.0  13:11:07.8  connection_refused
  10.44.1.28:8080        70   15        15  13:11:05.1  13:11:07.9  connection_refused
  10.44.2.14:8080        17   14        14  13:11:00.2  13:11:12.2  connection_refused

Storms (buckets of 1 s)
  cart.shop:8080: 13:11:05.0 → 13:11:07.9 (2.90 s), 30 5xx of 30 requests, peak 10/s (usually 0/s): connection_refused ×30
    no change recorded before it (no deploy in --deploys, no event line of a Candor log): look at the upstream itself first

Timeouts
  api.shop:8080: 3 requests timed out waiting for the response head
    they all waited 15000 ms: a timeout of about 15.0 s cut them
    only 2 answered requests: too few for a p99 to suggest a timeout from

What to check first
  unreachable (36): the upstream is not there
    likely: nothing is listening at the upstream address: the connection was refused
    check:  Start the upstream process, or fix the port in the target URL.
    also:   connection_timeout (1, api.shop:8080): Check that the upstream host is up and that no firewall drops packets to its port; for an https target whose TCP connect succeeded, that the port speaks TLS and is not too loaded to finish handshakes.
    also:   dns_error (1, api.shop:8080): Check the host name in the upstream target and the resolver the gateway uses.
  slow (3): the upstream is too slow
    likely: the upstream accepted the request but sent no response within the timeout
    check:  Find what the upstream is waiting on (a slow query, CPU starvation, a lock); raise the route's response timeout only if the work is legitimately that slow.
  reset (3): the upstream is crashing
    likely: the upstream closed or reset the connection before sending a complete response head
    check:  Look for a crash, an OOM kill or a restart in the upstream's own logs at this time.
  garbage (1): something else is on that port
    likely: the upstream answered, but not with a valid HTTP response
    check:  Check what is listening on the target port: it may be another service, or the app writes to the socket directly.
  gateway (12): the gateway answered on its own
    likely: every target of the upstream is out of rotation (unhealthy or circuit open), or it answered that it is unavailable
    check:  Bring a target back: where a circuit is open (the details say so, naming the last failure), find why the upstream failed; else check why each target is out of rotation (its health check failures, its ejection).
    also:   proxy_internal_response (3, api.shop:8080): Read the details: wait for the maintenance window to end or for load to drop; a limit the gateway could not check (its rate limit store down, with store.redis.on_error: deny) is mended at the gateway.
    also:   connection_limit_reached (2, api.shop:8080): Add targets or capacity, or raise pool.max_connections if the upstream can take more.
    also:   http_request_denied (2, api.shop:8080): Slow down: wait for the time in Retry-After before trying again. Without Retry-After (a 401 or 403), the route's access rules refuse this client: send valid credentials, or ask the gateway's operators.
    also:   destination_not_found (1, api.shop:8080): Check the URL, or add a route for it to the gateway configuration.
  internal (1): a bug in the gateway
    likely: the gateway hit an internal error while handling the request
    check:  This is a bug in the gateway: report it with the request id and the gateway's log line.
  5xx, cause unknown (1): these logs do not say why
    check:  the Notes below: where these logs keep their causes (nginx: give its error log too)

Notes
  - Envoy's default format has no response code details: UF stands for every failed connect (refused, timed out, failed TLS handshake: read as connection_refused), and a 5xx without a flag is counted as cause unknown (most are the upstream's own, but Envoy's filters can answer without a flag). Istio's format, or %RESPONSE_CODE_DETAILS% and %UPSTREAM_TRANSPORT_FAILURE_REASON% added to yours, tell them apart.
`;
