/**
 * A log writer lends the access line its batch (LineSink.openLine): the line is built there in
 * place, piece by piece. These tests hold what reaches the file byte for byte equal to what a
 * sink taking strings gets (access-log.test.ts holds that against JSON.stringify), in order with
 * the logger's own lines, and the writer's backlog bound kept for lines built in place.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { Failure } from '../../../src/core/failure/failure.ts';
import { logRequest } from '../../../src/observe/log/access-log.ts';
import { LineWriter } from '../../../src/observe/log/line-writer.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { RequestRecord } from '../../../src/observe/log/request-record.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { TRACE } from '../../helpers/trace-context.ts';

function tempFile(): string {
  return path.join(tempDir('candor-line-'), 'access.log');
}

function record(requestPath: string, status = 200): RequestRecord {
  const r = new RequestRecord('id-1', TRACE, '127.0.0.1', 'GET', 'example.com', requestPath);
  r.route = '/';
  r.upstream = 'app';
  r.target = 'http://127.0.0.1:1';
  r.status = status;
  r.bytesOut = 1234567;
  r.connectMs = 1.23456;
  r.reusedConnection = false;
  r.ttfbMs = 2.5;
  r.tries.push({ target: 'http://127.0.0.1:1', status, error: undefined, stage: undefined, ms: 2 });
  return r;
}

/** The same lines through a string-taking sink and through a LineWriter on a file. */
function bothWays(gateway: string, write: (logger: ReturnType<typeof createLoggerOn>) => void) {
  const strings: string[] = [];
  write(createLoggerOn({ write: (line: string) => strings.push(line) }, 'info', gateway));
  const file = tempFile();
  const fd = fs.openSync(file, 'a');
  try {
    const writer = new LineWriter(fd, 1 << 20, { name: gateway });
    write(createLoggerOn(writer, 'info', gateway));
    writer.flushSync();
    return { expected: strings.join(''), written: fs.readFileSync(file, 'utf8') };
  } finally {
    fs.closeSync(fd);
    fs.rmSync(path.dirname(file), { recursive: true });
  }
}

test('the line built in the writer’s batch is byte for byte the line a string sink gets, in order with the logger’s own', (t) => {
  let now = 1000;
  t.mock.method(performance, 'now', () => now);
  t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 10, 26, 4, 0, 0, 5) });
  const lines = (logger: ReturnType<typeof createLoggerOn>) => {
    now = 1000;
    logRequest(logger, record('/plain?q=1'));
    logger.info({ event: 'between' }, 'an event line');
    // What JSON escapes, and what is past ASCII: written as JSON.stringify writes them.
    logRequest(logger, record('/p?q="quoted"\\\u2028é'));
    const failed = record('/x', 500);
    failed.failure = new Failure('proxy_internal_error', 'internal error while handling the request', {
      cause: Object.assign(new TypeError('boom'), { stack: 'TypeError: boom\n    at here (x.ts:1:1)' }),
    });
    now = 1012.3456;
    logRequest(logger, failed);
  };
  for (const gateway of ['edge "1"', 'édge-ü', 'edge']) {
    const { expected, written } = bothWays(gateway, lines);
    assert.equal(expected.split('\n').length, 5);
    assert.equal(written, expected);
  }
});

test('whatever the path holds, the line built in the batch is the string sink’s, byte for byte', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 10, 26, 4, 0, 0, 5) });
  fc.assert(
    fc.property(
      fc.oneof(
        fc.stringMatching(/^[\x20-\x7e]{0,40}$/),
        fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
      ),
      fc.nat(),
      (requestPath, bytes) => {
        const { expected, written } = bothWays('edge', (logger) => {
          const r = record(requestPath);
          r.bytesIn = bytes;
          r.elapsed = () => 3.07;
          logRequest(logger, r);
        });
        assert.equal(written, expected);
      },
    ),
    { numRuns: 200 },
  );
});

test('lines built in the batch past the backlog are dropped whole, counted, and the count is written', () => {
  const file = tempFile();
  const writer = LineWriter.open(file, 2000, { name: 'edge' });
  const logger = createLoggerOn(writer, 'info', 'edge');
  // The turn's write comes after this loop: the backlog fills.
  for (let i = 0; i < 20; i++) logRequest(logger, record(`/n/${i}`));
  const dropped = writer.linesDropped;
  assert.ok(dropped > 0 && dropped < 20, `${dropped} lines dropped`);
  writer.flushSync();
  const lines = fs
    .readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line));
  const paths = lines.filter((line) => line.msg === 'request').map((line) => line.path);
  assert.deepEqual(
    paths,
    Array.from({ length: 20 - dropped }, (_, i) => `/n/${i}`),
  );
  assert.equal(lines.at(-1).dropped_lines, dropped);
});
