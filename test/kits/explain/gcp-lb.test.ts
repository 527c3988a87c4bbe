/**
 * `explain` on Google Cloud load balancer request logs (fixtures/gcp-lb.log, Cloud Logging
 * entries built by fixtures/build-doc-fixtures.ts from the docs' field list and statusDetails table: an api backend that refuses
 * and drops connections, then has no healthy backend left; a web backend with 30 s timeouts
 * and 500s of its own; a response cut short; a client that left).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectFormat } from '../../../src/kits/explain/detect-format.ts';
import type { RequestLine } from '../../../src/kits/explain/log-record.ts';
import { gcpLbReader } from '../../../src/kits/explain/readers/gcp-lb-reader.ts';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import { explain, fixture, lines, typeCounts } from './explain-fixture.ts';

test('GCP load balancer: statusDetails maps every 5xx onto the taxonomy or onto the backend', async () => {
  const report = await explain([fixture('gcp-lb.log')]);
  assert.deepEqual(
    report.files.map((f) => [f.format, f.lines, f.records]),
    [['gcp-lb', 129, 129]],
  );
  assert.deepEqual(report.statuses, [
    { status: 200, count: 102 },
    { status: 500, count: 3 },
    { status: 502, count: 24 },
  ]);
  assert.deepEqual(typeCounts(report), {
    connection_refused: 6, // failed_to_connect_to_backend
    connection_terminated: 3, // backend_connection_closed_before_data_sent_to_client
    destination_unavailable: 12, // failed_to_pick_backend
    http_response_timeout: 3, // backend_timeout (logged 502)
    http_response_incomplete: 1, // backend_connection_closed_after_partial_response_sent
  });
  assert.equal(report.upstreamOwn5xx, 3, 'response_sent_by_backend with a 500');
  assert.equal(report.unexplained5xx, 0);
  assert.equal(report.clientAborted, 1);
  assert.deepEqual(
    report.timeouts.map((t) => [t.upstream, t.timeouts, t.verdict]),
    [['web-backend', 3, 'upstream_hangs']],
  );
  const text = renderText(report);
  assert.match(text, /\n {4}http_response_timeout +3 +504 +502×3 +web-backend \(3\)\n/);
  assert.match(text, /\n {2}10\.128\.0\.12 +34 +9 +9 /);
});

test('GCP load balancer: the fields an entry gives; proxyStatus names the error where present', () => {
  const [first] = lines('gcp-lb.log');
  const record = gcpLbReader.read(first) as RequestLine;
  assert.equal(record.upstream, 'api-backend');
  assert.equal(record.target, '10.128.0.11');
  assert.equal(record.requestId, '00000000000000000000000000000001');
  assert.equal(record.producedBy, undefined);
  const refused = JSON.parse(lines('gcp-lb.log').find((l) => l.includes('failed_to_connect')) as string);
  refused.jsonPayload.proxyStatus =
    'Google; error="connection_timeout"; details="failed_to_connect_to_backend"';
  const timedOut = gcpLbReader.read(JSON.stringify(refused)) as RequestLine;
  assert.equal(timedOut.failure, 'connection_timeout');
  assert.equal(timedOut.producedBy, 'proxy');
  // `gcloud logging read --format=json` prints an array: not one entry per line.
  assert.equal(gcpLbReader.read('['), undefined);
  assert.equal(detectFormat(lines('gcp-lb.log').slice(0, 20))?.format, 'gcp-lb');
});

test('GCP load balancer: a client that left before any response has no status: none was sent', () => {
  const entry = JSON.parse(lines('gcp-lb.log')[0]);
  entry.jsonPayload.statusDetails = 'client_disconnected_before_any_response';
  delete entry.httpRequest.status;
  const record = gcpLbReader.read(JSON.stringify(entry)) as RequestLine;
  assert.equal(record.status, 0);
  assert.equal(record.clientAborted, true);
  assert.equal(record.failure, undefined);
});

test('a 5xx entry with no statusDetails is not said to be made by the load balancer', () => {
  const entry = {
    jsonPayload: { '@type': 'type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry' },
    httpRequest: { requestMethod: 'GET', requestUrl: 'https://ex.com/b', status: 502, latency: '0.012s' },
    resource: { type: 'http_load_balancer', labels: { backend_service_name: 'web' } },
    timestamp: '2026-11-22T11:00:01.100000Z',
  };
  const record = gcpLbReader.read(JSON.stringify(entry)) as RequestLine;
  assert.equal(record.status, 502);
  assert.equal(record.failure, undefined);
  assert.equal(record.producedBy, undefined, 'nothing in the entry says who answered');
});
