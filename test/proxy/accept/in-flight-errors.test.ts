/**
 * Parser errors that arrive while a request is already with its handler: a chunked body
 * that breaks after forwarding started, and a malformed request pipelined behind a good
 * one. Each request gets exactly one answer and one log line, in order on the socket.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertClientError,
  assertStillServes,
  hasFinalResponse,
  parseRaw,
  RawClient,
  startFixture,
} from './downstream-fixture.ts';

test('a chunk size that breaks after the body started streaming is a 400 from the request itself', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  client.write(
    'POST /stream HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Request-Id: broken-later\r\n\r\n5\r\nabcde\r\n',
  );
  // Forwarding has begun: the upstream has the head (and perhaps the first chunk).
  await f.echo.waitForRequest(1);
  client.write('zz\r\nmore\r\n0\r\n\r\n');
  await client.until(hasFinalResponse);
  await client.untilClosed().catch(() => {});
  await assertClientError(
    f,
    { raw: client.received, closed: client.closed },
    {
      status: 400,
      // What the parser said, as the same bytes in the head's read would say it.
      details:
        /request body could not be read \(HPE_INVALID_CHUNK_SIZE\): invalid chunked framing \(invalid chunk size "zz"\)/,
      requestId: 'broken-later',
    },
  );
  assert.equal(f.echo.received.length, 1);
  assert.equal(f.echo.received[0].bodyComplete, false, 'the upstream never sees the body as whole');
  await assertStillServes(f);
});

test('a malformed request pipelined behind a good one is answered after it, then closed', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  client.write(
    'GET /first?delay=100 HTTP/1.1\r\nHost: a\r\nX-Request-Id: first\r\n\r\n' +
      'GET /second HTTP/1.1\r\nHost: a\r\nX-Request-Id: second\r\nX-Nul: a\x00b\r\n\r\n',
  );
  await client.untilClosed();
  const second = client.received.indexOf('HTTP/1.1 ', 1);
  assert.ok(second > 0, `two responses, got ${JSON.stringify(client.received.slice(0, 300))}`);
  const first = parseRaw(client.received.slice(0, second));
  assert.equal(first.status, 200, 'the good request is answered first, by the upstream');
  const firstLine = await f.gw.logFor('first');
  assert.equal(first.headers['x-request-id'], firstLine.req_id);
  assert.equal(firstLine.status, 200);
  await assertClientError(
    f,
    { raw: client.received.slice(second), closed: client.closed },
    { status: 400, details: /malformed request \(HPE_INVALID_HEADER_TOKEN/, requestId: 'second' },
  );
  assert.equal(f.echo.received.length, 1, 'only the good request reached the upstream');
  await assertStillServes(f);
});
