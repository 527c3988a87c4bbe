/**
 * A request whose HEADERS come without END_STREAM, and then nothing, answered without its body
 * (OPTIONS *, a redirect route, HEAD, an upstream's 204): the answer leaves whole, then the
 * stream is reset with RST_STREAM NO_ERROR (RFC 9113 §8.1), so the connection is not held open
 * for as long as the client likes (issue 31, item 2: with max_connections: 4, four such
 * connections locked out every client). Raw frames, since node:http2's client always ends what
 * it sends.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../../src/kits/fault-kit/http-servers.ts';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';
import { ERROR, FLAG, FRAME, headerBlock, headers, RawH2Client, requestFields } from './h2-frames.ts';

const keep = closeAfterAll();
const upstream = await keep(startEcho());
const gw = await keep(
  startTestGateway(
    `name: edge-1
routes:
  - match: { path: /old }
    redirect: { location: "https://example.test/new" }
  # Streamed: a body read whole first would wait for the client's END_STREAM before any attempt.
  - upstream: app
    request_buffering: false
upstreams:
  app: { targets: [{ url: "${upstream.url}" }] }
`,
    {},
    'http2: true',
  ),
);

/** Sends one request's HEADERS without END_STREAM; waits for the whole answer, then for the stream's RST_STREAM. */
async function unended(fields: [string, string][]): Promise<{ rstCode: number }> {
  const client = await RawH2Client.connect(gw.port);
  try {
    client.send(headers(1, headerBlock(fields), { endStream: false }));
    // The answer itself is whole first: END_STREAM on its HEADERS, on the DATA after them, or
    // on its trailers.
    await client.waitFor(
      (f) =>
        f.streamId === 1 &&
        (f.type === FRAME.HEADERS || f.type === FRAME.DATA) &&
        (f.flags & FLAG.END_STREAM) !== 0,
    );
    const rst = await client.waitFor((f) => f.type === FRAME.RST_STREAM && f.streamId === 1);
    return { rstCode: rst.payload.readUInt32BE(0) };
  } finally {
    client.close();
  }
}

for (const [name, fields] of [
  ['OPTIONS * answered by the gateway', requestFields('*', 'OPTIONS')],
  ['a redirect route', requestFields('/old', 'GET')],
  // The echo's `early=1` answers without waiting for the request body.
  ['HEAD answered by the upstream', requestFields('/head?early=1&bytes=5', 'HEAD')],
  [
    "an upstream's 204",
    requestFields('/nothing?status=204&early=1', 'POST', [['content-type', 'text/plain']]),
  ],
  [
    "an upstream's answer with a body and trailers",
    requestFields('/trailers?early=1&bytes=5&trailers=1', 'POST'),
  ],
] as const)
  test(`${name}: the whole answer, then RST_STREAM NO_ERROR on the unended stream`, async () => {
    const { rstCode } = await unended([...fields]);
    assert.equal(rstCode, ERROR.NO_ERROR);
  });
