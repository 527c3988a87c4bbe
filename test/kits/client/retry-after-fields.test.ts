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
