/**
 * A collector whose name its DNS never answers must not break the requests: getaddrinfo holds
 * one of libuv's 4 threads until the resolver gives up, and each export looked the collector's
 * name up anew, until the four were held and a healthy upstream's name (and file reads, zlib)
 * waited behind them: 504 dns_timeout, then its circuit open, for the collector's DNS. The
 * collector's name is looked up as an upstream's is, one lookup at a time.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ownResolverSkip, withOwnResolver } from '../../helpers/own-resolver.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures/silent-collector-name.ts');

test('a collector whose name is never answered holds one resolver thread: every request is served', {
  skip: ownResolverSkip(),
}, () => {
  // Exports end at 200 ms (each a new lookup without the fix, four in the first second of
  // requests); the resolver waits 5 s for an answer, longer than the requests take.
  const env = 'OTEL_BSP_SCHEDULE_DELAY=20 OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=200 UV_THREADPOOL_SIZE=4';
  const run = withOwnResolver(`${env} exec "${process.execPath}" "${FIXTURE}"`, 5);
  assert.equal(run.status, 0, run.stderr);
  const answers: { status: number; proxyStatus?: string }[] = JSON.parse(run.stdout);
  assert.deepEqual(
    answers.filter((answer) => answer.status !== 200),
    [],
  );
});
