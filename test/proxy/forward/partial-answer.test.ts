/**
 * An upstream's 206 is relayed only when its Content-Range reads and fits (RFC 9110 §14.4,
 * §15.3.7): a single part names its bytes (`bytes first-last/complete` or `/*`), first at most
 * last, last within the complete length, and a Content-Length of the part's size. Anything else
 * is no part a client can place: the upstream's bad answer, a 502 `http_protocol_error` with its
 * `received-status=206`, never a body spliced into a client's copy at the wrong place. A 206 to a
 * request without Range, well formed, is still relayed (compression.test.ts pins it): a client
 * reads its Content-Range.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { samples, scrape } from '../../observe/metrics/scrape.ts';

/** An upstream answering every request with a 206 of these fields (raw) and a 10-byte body. */
async function partsOf(fields: string, body = '0123456789') {
  const upstream = await startRawFault(async (c) => {
    for (;;) {
      await c.nextRequest();
      await c.write(`HTTP/1.1 206 Partial Content\r\n${fields}\r\n${body}`);
    }
  });
  const gw = await startTestGateway(
    singleUpstream(upstream.url, { extra: 'metrics: { listen: 127.0.0.1:0 }' }),
  );
  return { upstream, gw };
}

for (const [name, fields, details] of [
  ['no Content-Range', 'content-length: 10\r\n', '206 Partial Content without Content-Range'],
  [
    'a Content-Range that does not read',
    'content-range: bytes 0-9\r\ncontent-length: 10\r\n',
    '206 Partial Content with an unreadable Content-Range "bytes 0-9"',
  ],
  [
    "an unsatisfied range (416's form)",
    'content-range: bytes */100\r\ncontent-length: 10\r\n',
    '206 Partial Content with an unreadable Content-Range "bytes */100"',
  ],
  [
    'an end before its start',
    'content-range: bytes 9-0/100\r\ncontent-length: 10\r\n',
    '206 Partial Content whose Content-Range "bytes 9-0/100" ends before it starts',
  ],
  [
    'an end past the complete length',
    'content-range: bytes 95-104/100\r\ncontent-length: 10\r\n',
    '206 Partial Content whose Content-Range "bytes 95-104/100" ends past its complete length',
  ],
  [
    "a Content-Length that is not the part's",
    'content-range: bytes 0-19/100\r\ncontent-length: 10\r\n',
    '206 Partial Content whose Content-Range "bytes 0-19/100" names 20 bytes and whose Content-Length is 10',
  ],
] as const) {
  test(`a 206 with ${name} is the upstream's bad answer: 502 http_protocol_error, received-status=206`, async (t) => {
    const { upstream, gw } = await partsOf(fields);
    t.after(() => upstream.close());
    t.after(() => gw.close());
    const res = await request(gw.url, { path: '/video', headers: { range: 'bytes=0-9' } });
    assert.equal(res.status, 502);
    assert.equal(res.headers['content-range'], undefined);
    assert.equal(
      res.headers['proxy-status'],
      `edge-1; error=http_protocol_error; received-status=206; details=${JSON.stringify(details)}; next-hop="app"`,
    );
    // The target's own bad answer: its attempt is garbage (counted against it), not a response
    // the gateway failed on, as a plugin's failure after an answer is.
    await gw.logFor(res.headers['x-request-id'] as string);
    const attempts = samples((await scrape(gw.gateway.metricsPort() as number)).text)
      .filter((s) => s.name === 'candor_upstream_attempts_total')
      .map((s) => `${s.labels.outcome} ${s.value}`);
    assert.deepEqual(attempts, ['http_protocol_error 1']);
  });
}

for (const [name, fields] of [
  ['a part of a known length', 'content-range: bytes 0-9/100\r\ncontent-length: 10\r\n'],
  ['a part of an unknown length', 'content-range: Bytes 90-99/*\r\ncontent-length: 10\r\n'],
  ['a chunked part', 'content-range: bytes 0-9/100\r\ntransfer-encoding: chunked\r\n'],
  ['another range unit', 'content-range: items 0-1/2\r\ncontent-length: 10\r\n'],
  [
    'several parts (multipart/byteranges)',
    'content-type: multipart/byteranges; boundary=b\r\ncontent-length: 10\r\n',
  ],
] as const) {
  test(`a 206 with ${name} is relayed as it came`, async (t) => {
    const chunked = fields.includes('chunked');
    const { upstream, gw } = await partsOf(fields, chunked ? 'a\r\n0123456789\r\n0\r\n\r\n' : undefined);
    t.after(() => upstream.close());
    t.after(() => gw.close());
    const res = await request(gw.url, { path: '/video', headers: { range: 'bytes=0-9' } });
    assert.equal(res.status, 206);
    assert.equal(res.text, '0123456789');
    assert.equal(res.headers['content-range'], /content-range: ([^\r]*)/.exec(fields)?.[1]);
  });
}
