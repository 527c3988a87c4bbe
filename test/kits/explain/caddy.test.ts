/**
 * `explain` on the logs the real Caddy 2.6.2 wrote in front of fault-kit upstreams
 * (fixtures/record-caddy.ts): five requests reached each misbehaving upstream, the deployed
 * app refused connections for three seconds, and every request carried an X-Request-Id.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectFormat } from '../../../src/kits/explain/detect-format.ts';
import type { FailedAttempt, RequestLine } from '../../../src/kits/explain/log-record.ts';
import { caddyAccessReader } from '../../../src/kits/explain/readers/caddy-access-reader.ts';
import { caddyErrorReader, goNetFailure } from '../../../src/kits/explain/readers/caddy-error-reader.ts';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import { explain, fixture, lines, typeCounts } from './explain-fixture.ts';

const ROUNDS = 5;
const ACCESS = fixture('caddy-access.log');
const ERRORS = fixture('caddy.log');

/** Access lines of a path prefix with a status, read from the raw lines. */
const raw = (prefix: string, status: number) =>
  lines('caddy-access.log').filter((l) => {
    const e = JSON.parse(l);
    return e.request.uri.startsWith(prefix) && e.status === status;
  }).length;

test('Caddy access and error logs: every 5xx Caddy made is joined to its Go error', async () => {
  const report = await explain([ACCESS, ERRORS]);
  const deploy = raw('/app/', 502);
  assert.ok(deploy >= 20, `the deploy's refused connections are in the log (${deploy})`);
  assert.deepEqual(
    report.files.map((f) => [f.format, f.lines, f.records]),
    [
      ['caddy-access', 220, 220],
      ['caddy-error', 91, 70],
    ],
  );
  assert.deepEqual(typeCounts(report), {
    connection_refused: ROUNDS + deploy,
    dns_error: ROUNDS,
    tls_protocol_error: ROUNDS,
    connection_timeout: ROUNDS, // a dial i/o timeout, which Caddy answers 502
    http_response_timeout: ROUNDS,
    connection_terminated: 2 * ROUNDS, // EOF and a reset before the head
    http_response_incomplete: ROUNDS, // reset mid-body: logged 200, body shorter than its Content-Length
    http_protocol_error: ROUNDS, // an SSH banner
  });
  assert.equal(report.failedAttempts, 0, 'every error line found its access line');
  assert.equal(report.upstreamOwn5xx, ROUNDS, "the own503 upstream's 503s");
  assert.equal(report.unexplained5xx, 0);
  const dial = report.shapes.flatMap((s) => s.types).find((t) => t.type === 'connection_timeout');
  assert.deepEqual(dial?.loggedStatuses, [{ status: 502, count: ROUNDS }]);
  assert.equal(report.storms.length, 1);
  assert.equal(report.storms[0].errors, deploy);
  assert.deepEqual(
    report.timeouts.map((t) => [t.upstream, t.timeouts, t.verdict]),
    [['-', ROUNDS, 'upstream_hangs']],
  );
  assert.match(
    renderText(report),
    /\n {4}connection_refused +\d+ +502 +502×\d+ +127\.0\.0\.1:\d+ \(\d+\), 127\.0\.0\.1:\d+ \(5\)\n/,
  );
});

test('Caddy access log alone: 5xx without cause, Caddy-made ones told apart, cut bodies found', async () => {
  const report = await explain([ACCESS]);
  assert.deepEqual(typeCounts(report), { http_response_incomplete: ROUNDS });
  assert.equal(report.unexplained5xx, raw('/', 502) + raw('/', 503) + raw('/', 504));
  assert.equal(report.upstreamOwn5xx, 0);
  const produced = lines('caddy-access.log')
    .map((l) => caddyAccessReader.read(l) as RequestLine)
    .filter((r) => r.status >= 500);
  // Caddy's own answers carry only its Server header; the passed-through 503 brings the upstream's
  // (and without Caddy's own log to rule out a failure, explain does not count it as passed through).
  assert.equal(produced.filter((r) => r.producedBy === 'proxy').length, raw('/', 502) + raw('/', 504));
  assert.equal(produced.filter((r) => r.producedBy === 'upstream').length, raw('/own503/', 503));
  assert.match(report.notes.join('\n'), /no upstream and no cause for its 5xx/);
});

test('Caddy: both lines of one request share a join key and the request id', () => {
  const error = lines('caddy.log').find((l) => l.includes('connection refused')) as string;
  const attempt = caddyErrorReader.read(error) as FailedAttempt;
  assert.equal(attempt.failure, 'connection_refused');
  assert.match(attempt.target ?? '', /^127\.0\.0\.1:\d+$/);
  const access = lines('caddy-access.log')
    .map((l) => caddyAccessReader.read(l) as RequestLine)
    .find((r) => r.requestId === attempt.requestId);
  assert.ok(access);
  assert.equal(access.joinKey, attempt.joinKey);
  assert.match(attempt.requestId ?? '', /^rec-\d{5}$/);
  // Startup, TLS and reverse_proxy's own lines are Caddy's, but hold no record.
  const others = lines('caddy.log').filter((l) => !l.includes('"logger":"http.log.error'));
  assert.ok(others.length > 10);
  for (const line of others) {
    assert.equal(caddyErrorReader.sniff(line), true, line);
    assert.equal(caddyErrorReader.read(line), undefined, line);
  }
  assert.equal(detectFormat(lines('caddy.log').slice(0, 20))?.format, 'caddy-error');
  assert.equal(detectFormat(lines('caddy-access.log').slice(0, 20))?.format, 'caddy-access');
});

test("Caddy: Go's error texts map onto the taxonomy", () => {
  const cases: Array<[string, string | undefined]> = [
    ['dial tcp 10.0.0.5:80: connect: connection refused', 'connection_refused'],
    ['dial tcp 10.0.0.5:80: i/o timeout', 'connection_timeout'],
    ['dial tcp 10.0.0.5:80: connect: no route to host', 'destination_ip_unroutable'],
    ['dial tcp: lookup api.internal on 10.0.0.2:53: no such host', 'dns_error'],
    [
      'dial tcp: lookup api.internal on 10.0.0.2:53: read udp 10.0.0.9:5353->10.0.0.2:53: i/o timeout',
      'dns_timeout',
    ],
    ['net/http: timeout awaiting response headers', 'http_response_timeout'],
    ['read tcp 10.0.0.9:41234->10.0.0.5:80: read: connection reset by peer', 'connection_terminated'],
    ['EOF', 'connection_terminated'],
    ['unexpected EOF', 'connection_terminated'],
    ['tls: first record does not look like a TLS handshake', 'tls_protocol_error'],
    [
      'tls: failed to verify certificate: x509: certificate has expired or is not yet valid',
      'tls_certificate_error',
    ],
    ['remote error: tls: handshake failure', 'tls_alert_received'],
    [
      'net/http: HTTP/1.x transport connection broken: malformed HTTP status code "Debian-2"',
      'http_protocol_error',
    ],
    ['net/http: HTTP/1.x transport connection broken: malformed MIME header line: x', 'http_protocol_error'],
    [
      'net/http: server response headers exceeded 1048576 bytes; aborted',
      'http_response_header_section_size',
    ],
    ['no upstreams available', 'destination_unavailable'],
    ['context canceled', undefined],
    ['not found', undefined],
  ];
  for (const [message, type] of cases) assert.equal(goNetFailure(message), type, message);
});

test("Caddy: a ts written as a date (the encoder's time_format) is read too", () => {
  const entry = JSON.parse(lines('caddy-access.log')[1]);
  const iso = new Date(entry.ts * 1000).toISOString();
  const line = JSON.stringify({ ...entry, ts: iso });
  assert.equal(caddyAccessReader.sniff(line), true);
  assert.equal((caddyAccessReader.read(line) as RequestLine).time, Date.parse(iso));
});
