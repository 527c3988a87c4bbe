/**
 * Docs that cannot drift: the README's failure table, config reference, metrics and exit codes are
 * read as data and compared with the tables in the code. When one side changes, this fails
 * until the other follows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/core/config/load.ts';
import { CONFIG_FIELD_PATHS } from '../../src/core/config/schema.ts';
import { parseDuration, parseSize } from '../../src/core/config/units.ts';
import { FAILURES } from '../../src/core/failure/taxonomy.ts';
import { continueOrStartTrace } from '../../src/core/ids/traceparent.ts';
import { RETRY_SKIPS } from '../../src/core/retry/reasons.ts';
import { lineFields } from '../../src/observe/log/access-log.ts';
import { RequestRecord } from '../../src/observe/log/request-record.ts';
import { METRICS } from '../../src/observe/metrics/catalog.ts';
import { GatewayMetrics } from '../../src/observe/metrics/metrics.ts';
import { EXIT } from '../../src/server/cluster/exit-codes.ts';
import { docsSection } from '../helpers/docs-text.ts';

const section = docsSection;

/** Table rows whose first cell is one `code` span, keyed by that code, with the other cells trimmed. */
function tableRows(text: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^\|\s*`([^`]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (match)
      rows.set(
        match[1],
        match[2].split('|').map((cell) => cell.trim()),
      );
  }
  return rows;
}

const unquote = (cell: string) => cell.replace(/^`(.*)`$/, '$1');

test('the failure table has one row per failure type, with its status, shape and flag', () => {
  const rows = tableRows(section('The failure contract'));
  for (const [type, kind] of Object.entries(FAILURES)) {
    const row = rows.get(type);
    assert.ok(row, `README failure table has no row for \`${type}\``);
    const [status, shape, flag, when] = row;
    assert.match(status, new RegExp(`\\b${kind.status}\\b`), `${type}: status`);
    assert.equal(status.includes('Retry-After'), kind.retryAfter, `${type}: Retry-After`);
    assert.equal(shape, kind.shape, `${type}: shape`);
    assert.equal(flag, `\`${kind.flag}\``, `${type}: flag`);
    assert.ok(when && when.length > 0, `${type}: says when it happens`);
  }
  for (const type of rows.keys()) {
    assert.ok(Object.hasOwn(FAILURES, type), `README failure table lists \`${type}\`, not in FAILURES`);
  }
});

test('the gRPC table puts every failure type under its gRPC status, once', () => {
  const placed = new Map<string, number>();
  for (const line of section('The failure contract').split('\n')) {
    const row = /^\|\s*(\d+) `[A-Z_]+`\s*\|([^|]*)\|/.exec(line);
    if (!row) continue;
    for (const type of row[2].matchAll(/`([a-z_0-9]+)`/g)) {
      assert.ok(!placed.has(type[1]), `README gRPC table lists \`${type[1]}\` twice`);
      placed.set(type[1], Number(row[1]));
    }
  }
  for (const [type, kind] of Object.entries(FAILURES)) {
    assert.equal(placed.get(type), kind.grpc, `README gRPC table: \`${type}\``);
  }
  for (const type of placed.keys()) {
    assert.ok(Object.hasOwn(FAILURES, type), `README gRPC table lists \`${type}\`, not in FAILURES`);
  }
});

test('the config reference has one row per config field, and no field the schema lacks', () => {
  const rows = tableRows(section('Configuration'));
  for (const path of CONFIG_FIELD_PATHS) {
    assert.ok(rows.has(path), `README config reference has no row for \`${path}\``);
  }
  for (const path of rows.keys()) {
    assert.ok(
      CONFIG_FIELD_PATHS.includes(path),
      `README config reference lists \`${path}\`, not in the schema`,
    );
  }
});

test('the defaults in the config reference are the ones the loader fills in', () => {
  const config = parseConfig(
    'listen: [{ address: "127.0.0.1:0" }]\nroutes: [{ upstream: u }]\nupstreams: { u: { targets: [{ url: "http://127.0.0.1:1" }] } }\n',
    '<docs>',
    {},
  );
  const [route] = config.routes;
  const upstream = config.upstreams.u;
  const actual: Record<string, unknown> = {
    name: config.name,
    'routes[].match.path': route.path,
    'routes[].strip_prefix': route.stripPrefix,
    'routes[].allow_encoded_slashes': route.allowEncodedSlashes,
    'routes[].limits.body': route.limits.body,
    'routes[].limits.buffer': route.limits.buffer,
    'routes[].request_buffering': route.requestBuffering,
    'upstreams.*.targets[].weight': upstream.targets[0].weight,
    'upstreams.*.balancer': upstream.balancer,
    'upstreams.*.protocol': upstream.protocol,
    'upstreams.*.pool.max_streams': upstream.pool.maxStreams,
    'upstreams.*.pool.max_connections': upstream.pool.maxConnections,
    'upstreams.*.pool.idle_timeout': upstream.pool.idleTimeout,
    'upstreams.*.pool.max_pending': upstream.pool.maxPending,
    'upstreams.*.pool.queue_timeout': upstream.pool.queueTimeout,
    'upstreams.*.panic_threshold': upstream.panicThreshold,
    'upstreams.*.outlier_detection.consecutive_failures': upstream.outlierDetection.consecutiveFailures,
    'upstreams.*.outlier_detection.base_ejection_time': upstream.outlierDetection.baseEjectionTime,
    'upstreams.*.outlier_detection.max_ejection_time': upstream.outlierDetection.maxEjectionTime,
    'upstreams.*.outlier_detection.max_ejected_percent': upstream.outlierDetection.maxEjectedPercent,
    'upstreams.*.circuit_breaker.consecutive_failures': upstream.circuitBreaker.consecutiveFailures,
    'upstreams.*.circuit_breaker.open_time': upstream.circuitBreaker.openTime,
    'upstreams.*.circuit_breaker.half_open_requests': upstream.circuitBreaker.halfOpenRequests,
    'upstreams.*.retries.attempts': upstream.retries.attempts,
    'upstreams.*.retries.backoff.base': upstream.retries.backoffBase,
    'upstreams.*.retries.backoff.max': upstream.retries.backoffMax,
    'upstreams.*.retries.budget.ratio': upstream.retries.budgetRatio,
    'upstreams.*.retries.budget.min_concurrent': upstream.retries.budgetMinConcurrent,
    'upstreams.*.retries.budget.min_per_second': upstream.retries.budgetMinPerSecond,
    'upstreams.*.retries.replay_body': upstream.retries.replayBody,
    'routes[].retry_idempotency_key': route.retryIdempotencyKey,
    'upstreams.*.timeouts.connect': upstream.timeouts.connect,
    'upstreams.*.timeouts.response': upstream.timeouts.response,
    'upstreams.*.timeouts.read': upstream.timeouts.read,
    'upstreams.*.timeouts.total': upstream.timeouts.total,
    'upstreams.*.tls.insecure_skip_verify': upstream.tls.insecureSkipVerify,
    'errors.expose_upstream_address': config.errors.exposeUpstreamAddress,
    'paths.normalize': config.paths.normalize,
    'paths.merge_slashes': config.paths.mergeSlashes,
    trust_forwarded_from: config.trustForwardedFrom,
    'limits.header_size': config.limits.headerSize,
    'limits.uri_length': config.limits.uriLength,
    'limits.header_timeout': config.limits.headerTimeout,
    'limits.body_idle_timeout': config.limits.bodyIdleTimeout,
    'limits.body_read_timeout': config.limits.bodyReadTimeout,
    'limits.body_min_rate': config.limits.bodyMinRate,
    'limits.send_timeout': config.limits.sendTimeout,
    'limits.keep_alive_timeout': config.limits.keepAliveTimeout,
    'listen[].http2': config.listen[0].http2,
    'limits.http2.max_concurrent_streams': config.limits.http2.maxConcurrentStreams,
    'limits.http2.max_header_list_size': config.limits.http2.maxHeaderListSize,
    'limits.http2.max_header_fields': config.limits.http2.maxHeaderFields,
    'limits.http2.header_table_size': config.limits.http2.headerTableSize,
    'limits.http2.max_session_memory': config.limits.http2.maxSessionMemory,
    'limits.http2.connection_buffer': config.limits.http2.connectionBuffer,
    'limits.http2.max_invalid_frames': config.limits.http2.maxInvalidFrames,
    'limits.http2.max_rejected_streams': config.limits.http2.maxRejectedStreams,
    'limits.http2.flood_window': config.limits.http2.floodWindow,
    'limits.http2.max_client_resets': config.limits.http2.maxClientResets,
    'limits.http2.max_pings': config.limits.http2.maxPings,
    'limits.http2.max_settings_frames': config.limits.http2.maxSettingsFrames,
    'limits.http2.max_requests': config.limits.http2.maxRequests,
    'limits.http2.send_timeout': config.limits.http2.sendTimeout,
    'limits.http2.idle_timeout': config.limits.http2.idleTimeout,
    'log.level': config.log.level,
    'log.destination': config.log.destination,
    'drain.delay': config.drain.delay,
    'drain.timeout': config.drain.timeout,
  };
  const rows = tableRows(section('Configuration'));
  for (const [path, value] of Object.entries(actual)) {
    const row = rows.get(path);
    assert.ok(row, `README config reference has no row for \`${path}\``);
    const written = unquote(row[1]);
    if (typeof value === 'number') {
      const parsed =
        /^[0-9.]+$/.test(written) && !Number.isInteger(value)
          ? Number(written)
          : (parseDuration(written) ?? parseSize(written));
      assert.equal(parsed, value, `${path}: default "${row[1]}"`);
    } else if (Array.isArray(value)) {
      assert.equal(written, JSON.stringify(value), `${path}: default`);
    } else {
      assert.equal(written, String(value), `${path}: default`);
    }
  }
});

test('the exit code table has every code in EXIT, by name', () => {
  const rows = tableRows(section('Command line'));
  for (const [name, code] of Object.entries(EXIT)) {
    const row = rows.get(String(code));
    assert.ok(row, `README has no exit code row for \`${code}\``);
    assert.equal(row[0], `\`${name}\``, `exit code ${code}: name`);
  }
  const codes = Object.values(EXIT).map(String);
  for (const code of rows.keys()) {
    if (/^\d+$/.test(code)) assert.ok(codes.includes(code), `README lists exit code ${code}, not in EXIT`);
  }
});

test('the log line table explains every field the access log writes, and no other', () => {
  // Every key, including those whose value is undefined on this record (pino leaves those
  // out); the line access-log.ts writes directly is kept equal to these by test/observe/log.
  const line = lineFields(
    new RequestRecord('id', continueOrStartTrace(undefined), '127.0.0.1', 'GET', 'h', '/'),
  );
  const written = Object.keys(line);
  assert.ok(written.length > 10, 'captured the log line');
  // pino's own fields (and err, added on internal errors) sit beside the ones access-log.ts builds.
  const fromLogger = ['level', 'time', 'gateway', 'msg', 'err'];
  const documented = new Set<string>();
  for (const row of section('How to read a log line').split('\n')) {
    const firstCell = /^\|([^|]*)\|/.exec(row)?.[1] ?? '';
    for (const name of firstCell.matchAll(/`([^`]+)`/g)) documented.add(name[1]);
  }
  for (const field of [...written, ...fromLogger]) {
    assert.ok(documented.has(field), `README log table does not explain \`${field}\``);
  }
  for (const field of documented) {
    assert.ok(
      written.includes(field) || fromLogger.includes(field),
      `README log table explains \`${field}\`, which the access log does not write`,
    );
  }
});

test('the log line table names every reason a retry is skipped', () => {
  const row = section('How to read a log line')
    .split('\n')
    .find((line) => line.startsWith('| `retry_skipped`'));
  assert.ok(row, 'README log table has a `retry_skipped` row');
  const named = [...row.matchAll(/`([a-z_]+)` \(/g)].map((m) => m[1]);
  assert.deepEqual(named.sort(), Object.keys(RETRY_SKIPS).sort());
});

test('the metrics reference has one row per metric of the catalog, with its type and labels', () => {
  const rows = tableRows(section('Metrics'));
  for (const spec of Object.values(METRICS)) {
    const row = rows.get(spec.name);
    assert.ok(row, `README metrics reference has no row for \`${spec.name}\``);
    const [type, labels, meaning] = row;
    assert.equal(type, spec.type, `${spec.name}: type`);
    assert.equal(labels, spec.labels.map((label) => `\`${label}\``).join(' '), `${spec.name}: labels`);
    assert.ok(meaning && meaning.length > 0, `${spec.name}: says what it answers`);
  }
  const names = Object.values(METRICS).map((spec) => spec.name as string);
  for (const name of rows.keys()) {
    assert.ok(names.includes(name), `README metrics reference lists \`${name}\`, not in the catalog`);
  }
});

test('every metric the registry renders has its row in the catalog (nothing registered beside it)', async () => {
  const rendered = (await new GatewayMetrics().exposition()).text;
  const declared = [...rendered.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
  const catalog = Object.values(METRICS)
    .map((spec) => `${spec.name} ${spec.type}`)
    .sort();
  assert.deepEqual(declared, catalog);
});
