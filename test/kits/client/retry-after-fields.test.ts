/**
 * candor/client, a Retry-After sent more than once (two fields, or one list: a proxy on the way
 * added its own, or a framework wrote it twice). fetch joins the fields ("60, 60"), which is
 * neither form of RFC 9110 §10.2.3: read as no header at all, the origin that asked for a minute
 * was sent the request again within milliseconds, and paused for no one. A list of delay-seconds
 * is read as its longest wait: the one that asks the least of the origin.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AttemptReport, createFetch } from '../../../src/kits/client/index.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';

for (const [what, fields] of [
  ['two Retry-After fields', 'retry-after: 60\r\nretry-after: 30\r\n'],
  ['a Retry-After list', 'retry-after: 30, 60\r\n'],
] as const) {
  test(`${what} on a 503: the longest wait is honoured, the origin is not sent the request again at once`, async () => {
    const origin = await startRawFault(async (connection) => {
      for (;;) {
        await readRequest(connection);
        await connection.write(`HTTP/1.1 503 Service Unavailable\r\n${fields}content-length: 5\r\n\r\nlater`);
      }
    });
    try {
      const reports: AttemptReport[] = [];
      const api = createFetch({
        deadline: 2_000,
        backoff: { base: 1, cap: 2 },
        onAttemptFailed: (r) => reports.push(r),
      });
      const res = await api(`${origin.url}/later`);
      assert.equal(res.status, 503);
      assert.deepEqual(
        reports.map((r) => [r.retry, r.reason, r.retryAfterMs]),
        [[false, 'retry_after_past_deadline', 60_000]],
      );
      assert.equal(origin.received.length, 1);
    } finally {
      await origin.close();
    }
  });
}

/**
 * Every form RFC 9110 §10.2.3 and §5.6.7 give Retry-After, through a real server: delay-seconds,
 * an HTTP-date in each of the three forms a recipient MUST accept (a date already past asks for
 * no wait: 0), and text that is none of them (read as no Retry-After: absent, never NaN, never a
 * wait it did not ask for). A delay past the deadline ends the call with the 503, its wait said.
 */
for (const [what, value, reason, wait] of [
  ['delay-seconds', '60', 'retry_after_past_deadline', 60_000],
  ['delay-seconds 0', '0', 'idempotent', 0],
  ['an IMF-fixdate already past', 'Sun, 06 Nov 1994 08:49:37 GMT', 'idempotent', 0],
  ['an obsolete RFC 850 date already past', 'Sunday, 06-Nov-94 08:49:37 GMT', 'idempotent', 0],
  ['an obsolete asctime date already past', 'Sun Nov  6 08:49:37 1994', 'idempotent', 0],
  ['an IMF-fixdate far ahead', 'Fri, 31 Dec 9999 23:59:59 GMT', 'retry_after_past_max_pause', 2 ** 31 * 1000],
  ['a date that is no date (31 Nov)', 'Thu, 31 Nov 2030 08:49:37 GMT', 'idempotent', undefined],
  ['a fraction', '1.5', 'idempotent', undefined],
  ['a negative delay', '-5', 'idempotent', undefined],
  ['seconds with a unit', '5 seconds', 'idempotent', undefined],
  ['a list with garbage in it', '5, soon', 'idempotent', undefined],
  [
    'a list of dates',
    'Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT',
    'idempotent',
    undefined,
  ],
  ['an empty value', '', 'idempotent', undefined],
  ['a list of delays', '5, 10', 'retry_after_past_deadline', 10_000],
] as const) {
  test(`Retry-After as ${what} (${JSON.stringify(value)}): read as ${wait === undefined ? 'absent' : `${wait} ms`}`, async () => {
    let sent = 0;
    const origin = await startRawFault(async (connection) => {
      for (;;) {
        await readRequest(connection);
        // The second attempt (a retry) gets its 200: the wait before it was the delay read.
        const answer =
          sent++ === 0
            ? `HTTP/1.1 503 Service Unavailable\r\nretry-after: ${value}\r\ncontent-length: 5\r\n\r\nlater`
            : 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';
        await connection.write(answer);
      }
    });
    try {
      const reports: AttemptReport[] = [];
      const api = createFetch({
        deadline: 3_000,
        attempts: 2,
        backoff: { base: 1, cap: 2 },
        onAttemptFailed: (r) => reports.push(r),
      });
      const res = await api(`${origin.url}/later`);
      assert.equal(reports.length, 1);
      assert.equal(reports[0].retryAfterMs, wait);
      assert.ok(!Number.isNaN(reports[0].retryAfterMs), 'never NaN');
      assert.equal(reports[0].reason, reason);
      assert.equal(res.status, reason === 'idempotent' ? 200 : 503);
      assert.equal(origin.received.length, reason === 'idempotent' ? 2 : 1);
    } finally {
      await origin.close();
    }
  });
}
