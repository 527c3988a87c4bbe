/**
 * `total_ms` runs "from the request's arrival to the end of the downstream response". Over HTTP/2
 * a whole answer to a request whose side the client has not ended (HEADERS without END_STREAM,
 * then nothing: a redirect, a 408 for a stalled body) is followed by a grace for the client to
 * end it, then RST_STREAM NO_ERROR (h2-request-side.ts). That grace is no part of the response:
 * the line's total_ms counted it (some 1,000 ms more than the answer took), where the same 408
 * over HTTP/1.1 counts none of its lingering close. Checked by causality, not by a clock: the
 * gateway's arrival-to-end cannot be longer than the client's send-to-receipt of that answer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import {
  FLAG,
  FRAME,
  frame,
  headerBlock,
  headers,
  RawH2Client,
  requestFields,
} from '../../proxy/accept/h2/h2-frames.ts';

const keep = closeAfterAll();
const upstream = await keep(startEcho());
const gw = await keep(
  startTestGateway(
    `name: edge-1
limits: { body_idle_timeout: 200ms }
routes:
  - match: { path: /old }
    redirect: { location: "https://example.test/new" }
  - upstream: app
upstreams:
  app: { targets: [{ url: "${upstream.url}" }] }
`,
    {},
    'http2: true',
  ),
);

/**
 * Sends HEADERS without END_STREAM (and `body`, if any), then nothing; returns the ms from the
 * send to the whole answer's arrival, after waiting for the stream's RST_STREAM (the grace's end).
 */
async function unended(fields: [string, string][], body?: Buffer): Promise<number> {
  const client = await RawH2Client.connect(gw.port);
  try {
    const sentAt = performance.now();
    client.send(headers(1, headerBlock(fields), { endStream: false }));
    if (body !== undefined) client.send(frame(FRAME.DATA, 0, 1, body));
    await client.waitFor(
      (f) =>
        f.streamId === 1 &&
        (f.type === FRAME.HEADERS || f.type === FRAME.DATA) &&
        (f.flags & FLAG.END_STREAM) !== 0,
    );
    const answeredMs = performance.now() - sentAt;
    await client.waitFor((f) => f.type === FRAME.RST_STREAM && f.streamId === 1);
    return answeredMs;
  } finally {
    client.close();
  }
}

test("a redirect to an unended HTTP/2 request: total_ms ends at the answer's end, not the request side's grace", async () => {
  const answeredMs = await unended(requestFields('/old', 'GET'));
  const line = await gw.accessLine(1);
  assert.equal(line.status, 308);
  assert.ok(
    (line.total_ms as number) <= answeredMs + 0.05,
    `total_ms ${line.total_ms}, the client had the whole answer ${answeredMs.toFixed(2)} ms after sending`,
  );
});

test('a 408 for a stalled HTTP/2 body: total_ms ends at the 408, as over HTTP/1.1', async () => {
  const answeredMs = await unended(
    requestFields('/upload', 'POST', [['content-length', '100']]),
    Buffer.alloc(10, 120),
  );
  const line = await gw.accessLine(2);
  assert.deepEqual([line.status, line.details], [408, 'request body stalled for 200 ms']);
  assert.ok(
    (line.total_ms as number) <= answeredMs + 0.05,
    `total_ms ${line.total_ms}, the client had the whole 408 ${answeredMs.toFixed(2)} ms after sending`,
  );
});
