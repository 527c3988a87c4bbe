/**
 * The access line is written as JSON text from one field table, to the logger's own sink: these
 * tests keep it equal to the line pino writes from the same fields, and byte for byte equal to
 * lines captured before the access log wrote its own lines (when it reached into pino's stream
 * and sent a gateway bug's line through pino).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import pino from 'pino';
import { Failure } from '../../../src/core/failure/failure.ts';
import { FAILURES, type FailureType, type Stage } from '../../../src/core/failure/taxonomy.ts';
import { strictJson } from '../../../src/core/printable.ts';
import { lineFields, logRequest } from '../../../src/observe/log/access-log.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { RequestRecord } from '../../../src/observe/log/request-record.ts';
import { TRACE } from '../../helpers/trace-context.ts';

function capture(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const text of chunk.toString().split('\n')) if (text !== '') lines.push(JSON.parse(text));
      done();
    },
  });
  const logger = createLoggerOn(stream, level as 'info', 'edge "1"');
  return { logger, lines };
}

function record(path = '/p?q="quoted"\u2028'): RequestRecord {
  const r = new RequestRecord('id-1', TRACE, '127.0.0.1', 'GET', 'example.com', path);
  r.route = '/';
  r.upstream = 'app';
  r.target = 'http://127.0.0.1:1';
  r.status = 200;
  r.bytesOut = 5;
  r.connectMs = 1.23456;
  r.reusedConnection = false;
  r.ttfbMs = 2.5;
  r.tries.push({ target: 'http://127.0.0.1:1', status: 200, error: undefined, stage: undefined, ms: 2 });
  return r;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Both lines, time and total_ms aside (they are taken a moment apart). */
function comparable(line: Record<string, unknown>): Record<string, unknown> {
  const { time, total_ms, ...rest } = line;
  assert.equal(typeof time, 'string');
  assert.equal(typeof total_ms, 'number');
  return rest;
}

test('a success line equals the line pino writes from the same fields', async () => {
  const { logger, lines } = capture();
  const r = record();
  logRequest(logger, r);
  logger.info(lineFields(r), 'request');
  await settle();
  assert.equal(lines.length, 2);
  assert.deepEqual(comparable(lines[0]), comparable(lines[1]));
  assert.equal(lines[0].path, '/p?q="quoted"\u2028');
});

test("a failure line with several tries equals pino's, at warn", async () => {
  const { logger, lines } = capture();
  const r = record();
  r.status = 502;
  r.stage = 'sent';
  r.failure = new Failure('connection_terminated', 'connection reset (ECONNRESET) before the response head', {
    stage: 'sent',
  });
  r.upstreamReset = true;
  r.tries.push({
    target: 'http://127.0.0.1:2',
    status: undefined,
    error: 'connection_terminated',
    stage: 'sent',
    ms: 1,
  });
  r.retrySkipped = 'attempts';
  logRequest(logger, r);
  logger.warn(lineFields(r), 'request');
  await settle();
  assert.equal(lines[0].level, 'warn');
  assert.deepEqual(comparable(lines[0]), comparable(lines[1]));
  assert.equal((lines[0].tries as unknown[]).length, 2);
  assert.equal(lines[0].retry_skipped, 'attempts');
});

test("a plugin's hop that failed is named; the route's upstream is left out when it was never asked", async () => {
  const { logger, lines } = capture();
  const before = new RequestRecord('id-5', TRACE, '127.0.0.1', 'GET', 'h', '/x');
  before.route = 'r';
  before.upstream = 'app';
  before.pluginHop = 'svc';
  before.failure = new Failure('connection_refused', 'connection refused (ECONNREFUSED) after 1 ms', {
    nextHop: 'svc',
  });
  before.status = 502;
  logRequest(logger, before);
  // In onResponse: the route's upstream answered, then the plugin's own hop failed.
  const after = record();
  after.pluginHop = 'svc';
  after.failure = new Failure('connection_refused', 'connection refused (ECONNREFUSED) after 1 ms', {
    nextHop: 'svc',
  });
  after.status = 502;
  logRequest(logger, after);
  await settle();
  assert.deepEqual(
    lines.map((l) => [l.plugin_hop, l.upstream, l.target, l.attempts]),
    [
      ['svc', undefined, undefined, 0],
      ['svc', 'app', 'http://127.0.0.1:1', 1],
    ],
  );
});

test('the line respects the logger level', async () => {
  const { logger, lines } = capture('warn');
  logRequest(logger, record());
  await settle();
  assert.equal(lines.length, 0);
});

test('the line follows the logger level as it is changed (a reload), not as it was at the first line', async () => {
  const { logger, lines } = capture('info');
  logRequest(logger, record());
  logger.level = 'warn';
  logRequest(logger, record());
  logger.level = 'info';
  logRequest(logger, record());
  await settle();
  assert.equal(lines.length, 2);
});

test('the lines are byte for byte those captured before the access log wrote its own', (t) => {
  const captured: string[] = JSON.parse(
    readFileSync(new URL('fixtures/access-lines.json', import.meta.url), 'utf8'),
  );
  let now = 1000;
  t.mock.method(performance, 'now', () => now);
  t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 10, 22, 12, 0, 0, 123) });
  const written: string[] = [];
  const logger = createLoggerOn({ write: (line: string) => written.push(line) }, 'info', 'edge "1"');

  const a = record();
  now = 1012.3456;
  logRequest(logger, a);

  const b = record();
  b.status = 502;
  b.stage = 'sent';
  b.failure = new Failure('connection_terminated', 'connection reset (ECONNRESET) before the response head', {
    stage: 'sent',
  });
  b.upstreamReset = true;
  b.tries.push({
    target: 'http://127.0.0.1:2',
    status: undefined,
    error: 'connection_terminated',
    stage: 'sent',
    ms: 1,
  });
  b.retrySkipped = 'attempts';
  b.panic = true;
  b.interimDropped = 3;
  now = 1020;
  logRequest(logger, b);

  const trace = record().trace;
  const c = new RequestRecord('id-3', trace, '::1', 'POST', 'h', '/');
  const boom = new TypeError('boom');
  boom.stack = 'TypeError: boom\n    at here (x.ts:1:1)';
  c.failure = new Failure('proxy_internal_error', 'internal error while handling the request', {
    cause: boom,
  });
  c.status = 500;
  now = 1030.5;
  logRequest(logger, c);

  const d = new RequestRecord(
    'id-4',
    { ...trace, traceId: undefined as unknown as string },
    '10.0.0.1',
    'GET',
    'h',
    '/x',
  );
  d.failure = new Failure('http_request_error', 'client closed the connection', { status: 499 });
  d.status = 499;
  d.clientAborted = true;
  d.upgraded = true;
  now = 1031;
  logRequest(logger, d);

  // Captured as pino wrote them, but for what JSON.stringify leaves raw and the line now escapes
  // (the path's U+2028: line-members.ts), the same JSON value.
  assert.deepEqual(
    written,
    captured.map((line) => `${strictJson(line)}\n`),
  );
});

test('whatever a client puts in the path, the line carries it as JSON.stringify would, byte for byte (what it leaves raw a terminal obeys escaped, a lone surrogate U+FFFD)', () => {
  const written: string[] = [];
  const logger = createLoggerOn({ write: (line: string) => written.push(line) }, 'info', 'edge');
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.string({ unit: 'binary' }),
        fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
      ),
      (path) => {
        const r = record(path);
        written.length = 0;
        logRequest(logger, r);
        assert.ok(written[0].includes(`,"path":${strictJson(JSON.stringify(path))},`));
        // Half a surrogate pair is U+FFFD, as a UTF-8 encoder writes it (strictJson).
        assert.equal(JSON.parse(written[0]).path, path.toWellFormed());
      },
    ),
    { numRuns: 500 },
  );
});

test('every line, whatever its fields hold, is byte for byte JSON.stringify of the table fields, C1, bidi overrides and U+2028 escaped (the line is written field by field, not from the table)', (t) => {
  let now = 0;
  t.mock.method(performance, 'now', () => now);
  t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 10, 23, 18, 0, 0, 7) });
  const written: string[] = [];
  const logger = createLoggerOn({ write: (line: string) => written.push(line) }, 'info', 'edge "1"');
  // Mostly plain strings (written as they are), some with what JSON must escape (written as
  // JSON.stringify writes them): about one line in three is all plain.
  const text = fc.oneof(
    { weight: 30, arbitrary: fc.stringMatching(/^[\x20\x21\x23-\x5b\x5d-\x7e]{0,12}$/) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary' }) },
    {
      weight: 1,
      arbitrary: fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
    },
  );
  const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });
  // Durations as they come (fractions of a millisecond to hours) and as they should never come.
  const duration = fc.oneof(
    fc.double({ min: 0, max: 1e7, noNaN: true }),
    fc.double(),
    fc.integer({ min: 0, max: 100_000 }).map((hundredths) => hundredths / 100),
  );
  const count = fc.oneof(fc.nat(), fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0));
  const stage = fc.constantFrom<Stage>('not_sent', 'sent', 'head_received', 'body_streaming');
  const failure = fc
    .record({
      type: fc.constantFrom(...(Object.keys(FAILURES) as FailureType[])),
      details: text,
      final: fc.boolean(),
      cause: fc.option(
        fc.constant(Object.assign(new TypeError('boom'), { stack: 'TypeError: boom\n    at x' })),
      ),
    })
    .map(
      ({ type, details, final, cause }) =>
        new Failure(type, details, { final, ...(cause === null ? {} : { cause }) }),
    );
  const attempt = fc.record({
    target: text,
    status: maybe(fc.integer({ min: 100, max: 599 })),
    error: maybe(fc.constantFrom(...(Object.keys(FAILURES) as FailureType[]))),
    stage: maybe(stage),
    ms: duration,
  });
  const fields = fc.record({
    id: text,
    traceId: maybe(text),
    client: text,
    method: text,
    host: text,
    path: text,
    clientRequestId: maybe(text),
    background: maybe(text),
    backgroundFor: maybe(text),
    upstreamPath: maybe(text),
    protocol: maybe(text),
    route: maybe(text),
    auth: maybe(text),
    authHop: maybe(text),
    user: maybe(text),
    pluginHop: maybe(text),
    upstream: maybe(text),
    target: maybe(text),
    status: count,
    upstreamGrpcStatus: maybe(count),
    gatewayGrpcStatus: maybe(count),
    cache: maybe(text),
    staleCause: maybe(text),
    failure: maybe(failure),
    stage: maybe(stage),
    bytesIn: count,
    bytesOut: count,
    encoding: maybe(text),
    bytesBeforeEncoding: count,
    bytesAfterEncoding: count,
    connectMs: maybe(duration),
    reusedConnection: maybe(fc.boolean()),
    ttfbMs: maybe(duration),
    elapsed: duration,
    upstreamReset: fc.boolean(),
    clientAborted: fc.boolean(),
    upgraded: fc.boolean(),
    acme: maybe(text),
    interimDropped: fc.oneof(fc.constant(0), count),
    panic: fc.boolean(),
    hashHome: maybe(text),
    tries: fc.array(attempt, { maxLength: 3 }),
    retrySkipped: maybe(text),
    heldMs: maybe(duration),
    spooled: maybe(fc.oneof(fc.constant(0), count)),
  });
  fc.assert(
    fc.property(fields, (f) => {
      now = 0;
      const trace = { ...record().trace, traceId: f.traceId as string };
      const r = new RequestRecord(f.id, trace, f.client, f.method, f.host, f.path);
      const { id, traceId, client, method, host, path, elapsed, ...rest } = f;
      Object.assign(r, rest);
      now = elapsed;
      written.length = 0;
      logRequest(logger, r);
      const level =
        r.failure === undefined || r.failure.kind.shape === 'client'
          ? 'info'
          : r.failure.kind.shape === 'internal'
            ? 'error'
            : 'warn';
      const cause = r.failure?.cause;
      const expected = strictJson(
        JSON.stringify({
          level,
          time: '2026-11-23T18:00:00.007Z',
          gateway: 'edge "1"',
          ...lineFields(r),
          ...(level === 'error' && cause !== undefined
            ? { err: pino.stdSerializers.err(cause as Error) }
            : {}),
          msg: 'request',
        }),
      );
      assert.deepEqual(written, [`${expected}\n`]);
    }),
    { numRuns: 2000 },
  );
});

test('members that repeat from line to line (a connection’s, a route’s) are written from the last line’s bytes only when their values are the same', (t) => {
  t.mock.method(performance, 'now', () => 0);
  t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 10, 26, 6, 0, 0, 1) });
  const written: string[] = [];
  const logger = createLoggerOn({ write: (line: string) => written.push(line) }, 'info', 'edge');
  // Few values, so that lines in a row often repeat them: equal strings that are other strings
  // (a host read off each request), absent ones, and ones JSON escapes.
  const value = fc.constantFrom('host', 'b', ['ho', 'st'].join(''), 'é"', '\\', '', 'x'.repeat(40));
  const maybe = fc.option(value, { nil: undefined });
  const line = fc.record({
    client: value,
    method: value,
    host: value,
    protocol: maybe,
    route: maybe,
    upstream: maybe,
    target: maybe,
    level: fc.constantFrom('info', 'warn'),
  });
  fc.assert(
    fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
      written.length = 0;
      const expected = lines.map((f) => {
        const r = new RequestRecord('id', TRACE, f.client, f.method, f.host, '/');
        Object.assign(r, { protocol: f.protocol, route: f.route, upstream: f.upstream, target: f.target });
        if (f.level === 'warn') r.failure = new Failure('connection_refused', 'refused');
        logRequest(logger, r);
        const time = '2026-11-26T06:00:00.001Z';
        return `${JSON.stringify({ level: f.level, time, gateway: 'edge', ...lineFields(r), msg: 'request' })}\n`;
      });
      assert.deepEqual(written, expected);
    }),
    { numRuns: 300 },
  );
});
