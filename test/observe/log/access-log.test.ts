/**
 * The access line is written as JSON text directly for speed; these tests keep it equal to
 * the line pino writes from the same fields, so the two writers cannot drift apart.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { Failure } from '../../../src/core/failure/failure.ts';
import { lineFields, logRequest } from '../../../src/observe/log/access-log.ts';
import { RequestRecord } from '../../../src/observe/log/request-record.ts';

function capture(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const text of chunk.toString().split('\n')) if (text !== '') lines.push(JSON.parse(text));
      done();
    },
  });
  const logger = pino(
    {
      level,
      base: { gateway: 'edge "1"' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  return { logger, lines };
}

function record(): RequestRecord {
  const r = new RequestRecord(
    'id-1',
    {
      traceId: 'a'.repeat(32),
      spanId: 'b'.repeat(16),
      traceparent: 'x',
      continued: false,
      parentId: undefined,
      sampled: true,
    },
    '127.0.0.1',
    'GET',
    'example.com',
    '/p?q="quoted"\u2028',
  );
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

test('the line respects the logger level', async () => {
  const { logger, lines } = capture('warn');
  logRequest(logger, record());
  await settle();
  assert.equal(lines.length, 0);
});
