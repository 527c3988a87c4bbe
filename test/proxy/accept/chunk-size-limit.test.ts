/**
 * A chunked request body is refused at the chunk-size line that takes it past the route's
 * `limits.body` (413 at once, as nginx does), not counted up to as its data trickles in: a
 * client that announces a huge chunk and stalls got a 408 at the body idle timeout. Real
 * sockets, raw bytes; the fixture's route limit is 1 KiB and its body idle timeout 500 ms.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertClientError,
  assertStillServes,
  assertUpstreamSawNothing,
  hasFinalResponse,
  parseRaw,
  RawClient,
  startFixture,
} from './downstream-fixture.ts';

const pad = (n: number) => 'a'.repeat(n);

/** Writes `first`, then `later` (if any) once the gateway had time to act on the first; never ends the body. */
async function stallAfter(port: number, first: string, later?: () => Promise<string>) {
  const client = await RawClient.connect(port);
  client.write(first);
  if (later !== undefined) client.write(await later());
  await client.until(hasFinalResponse);
  await client.untilClosed().catch(() => {});
  client.destroy();
  return { raw: client.received, closed: client.closed };
}

for (const path of ['/', '/stream']) {
  test(`${path}: a first chunk announced past the limit, then silence, is a 413 at once; nothing reaches the upstream`, async (t) => {
    const f = await startFixture();
    t.after(() => f.close());
    const answer = await stallAfter(
      f.gw.port,
      `POST ${path} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Request-Id: huge-chunk\r\n\r\nFFFFFFF\r\nabc`,
    );
    await assertClientError(f, answer, {
      status: 413,
      details:
        /^request body larger than the route's limit of 1024 bytes \(its chunk sizes announce 268435455 bytes\)$/,
      requestId: 'huge-chunk',
    });
    const line = await f.gw.logFor(parseRaw(answer.raw).headers['x-request-id']);
    assert.equal(line.details, answer.raw.match(/details="([^"]*)"/)?.[1]);
    assertUpstreamSawNothing(f);
    await assertStillServes(f);
  });
}

test('chunks under the limit one by one but past it in sum: the size line that crosses it is the 413', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const answer = await stallAfter(
    f.gw.port,
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Request-Id: sum\r\n\r\n300\r\n${pad(0x300)}\r\n200\r\n`,
  );
  await assertClientError(f, answer, {
    status: 413,
    details: /limit of 1024 bytes \(its chunk sizes announce 1280 bytes\)/,
    requestId: 'sum',
  });
  assertUpstreamSawNothing(f);
});

test('a size line past the limit after the body began streaming: 413 at once; the upstream never sees a whole body', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const answer = await stallAfter(
    f.gw.port,
    `POST /stream HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Request-Id: late\r\n\r\n200\r\n${pad(0x200)}\r\n`,
    async () => {
      // Forwarding has begun: the upstream has the head.
      await f.echo.waitForRequest(1);
      return '10000\r\nabc';
    },
  );
  await assertClientError(f, answer, {
    status: 413,
    details: /limit of 1024 bytes \(its chunk sizes announce 66048 bytes\)/,
    requestId: 'late',
  });
  assert.equal(f.echo.received.length, 1);
  assert.equal(f.echo.received[0].bodyComplete, false, 'the upstream never sees the body as whole');
  assert.ok(f.echo.received[0].bodyLength <= 0x200, `upstream saw ${f.echo.received[0].bodyLength} bytes`);
  await assertStillServes(f);
});

test('Expect: 100-continue with a chunked body: 100 Continue, then a size line past the limit is a 413', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  client.write(
    'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nX-Request-Id: expect\r\n\r\n',
  );
  await client.until((r) => r.includes('\r\n\r\n'));
  assert.match(client.received, /^HTTP\/1\.1 100 Continue\r\n\r\n$/);
  client.write('401\r\n');
  await client.until(hasFinalResponse);
  await client.untilClosed().catch(() => {});
  const res = await assertClientError(
    f,
    { raw: client.received, closed: client.closed },
    {
      status: 413,
      details: /limit of 1024 bytes \(its chunk sizes announce 1025 bytes\)/,
      requestId: 'expect',
    },
  );
  assert.deepEqual(res.interim, ['HTTP/1.1 100 Continue']);
  assertUpstreamSawNothing(f);
});

test('a chunked body of exactly the limit passes whole', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  client.write(
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n300\r\n${pad(0x300)}\r\n100\r\n${pad(0x100)}\r\n0\r\n\r\n`,
  );
  await client.until(hasFinalResponse);
  assert.equal(parseRaw(client.received).status, 200);
  const seen = await f.echo.waitForRequest(1, { body: true });
  assert.equal(seen.body.length, 1024);
});
