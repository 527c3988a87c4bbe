/**
 * `total_ms` runs "from the request's arrival to the end of the downstream response". Over HTTP/2
 * a whole answer to a request whose side the client has not ended (HEADERS without END_STREAM,
 * then nothing: a redirect, a 408 for a stalled body) is followed by a grace for the client to
 * end it, then RST_STREAM NO_ERROR (h2-request-side.ts). That grace is no part of the response:
 * the line's total_ms counted it (some 1,000 ms more than the answer took), where the same 408
 * over HTTP/1.1 counts none of its lingering close. Checked by causality, not by a clock: the
 * gateway's arrival-to-end cannot be longer than the client's send-to-receipt of that answer.
 *
 * A client that leaves during that grace (closes its connection, resets the stream CANCEL) has
 * its answer whole: `client_aborted` ("the client closed its connection before the response was
 * complete") is false, as the line has no client_closed error (and `candor explain` counted it
 * among the clients gone during an answer's body).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import {
  ERROR,
  FLAG,
  FRAME,
  frame,
  headerBlock,
  headers,
  RawH2Client,
  requestFields,
  rstStream,
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
  assert.deepEqual(
    [line.status, line.details],
    [408, 'request body stalled for 200 ms (limits.body_idle_timeout)'],
  );
  assert.ok(
    (line.total_ms as number) <= answeredMs + 0.05,
    `total_ms ${line.total_ms}, the client had the whole 408 ${answeredMs.toFixed(2)} ms after sending`,
  );
});

for (const [how, leave] of [
  ['closes its connection', (client: RawH2Client) => client.close()],
  ['resets the stream CANCEL', (client: RawH2Client) => client.send(rstStream(1, ERROR.CANCEL))],
] as const)
  test(`a client that ${how} after its whole answer, in the grace: not client_aborted`, async () => {
    const client = await RawH2Client.connect(gw.port);
    const path = `/old/${how.split(' ')[0]}`;
    try {
      client.send(headers(1, headerBlock(requestFields(path, 'POST')), { endStream: false }));
      await client.waitFor(
        (f) =>
          f.streamId === 1 &&
          (f.type === FRAME.HEADERS || f.type === FRAME.DATA) &&
          (f.flags & FLAG.END_STREAM) !== 0,
      );
      leave(client);
    } finally {
      client.close();
    }
    const line = await waitForLine(path);
    assert.deepEqual([line.status, line.error, line.client_aborted], [308, undefined, false]);
  });

/** The line of the request to `path` (written when its stream closes: at most the grace after its answer). */
async function waitForLine(path: string) {
  for (let waited = 0; waited < 5_000; waited += 10) {
    const line = gw.logs.find((l) => l.msg === 'request' && l.path === path);
    if (line !== undefined) return line;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no line for ${path}`);
}
