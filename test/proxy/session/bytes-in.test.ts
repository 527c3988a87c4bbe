/**
 * `bytes_in` is what the gateway read of the request from the client, whatever the answer: its
 * head and as much of its body as came (HTTP/1.1 as it came on the wire; HTTP/2 the head's
 * header list as RFC 9113 §6.5.2 counts it, and the body's DATA). Before, it counted only body
 * bytes sent upstream, so every refusal (413, 431, 414, 400, 429, 403) was logged 0 however much
 * of it had been read, and a proxied request's head counted for nothing.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { rawUntil } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

async function gateway(): Promise<TestGateway> {
  const upstream = await keep(startEcho());
  return keep(
    startTestGateway(
      `name: edge-1
limits: { header_size: 1KiB, uri_length: 256 }
routes:
  - match: { path: /limited }
    upstream: app
    rate_limit: { rate: 0.001, burst: 1 }
  - match: { path: /denied }
    upstream: app
    deny: [127.0.0.1]
  - match: { path: /small }
    upstream: app
    limits: { body: 10 }
  - upstream: app
upstreams:
  app:
    targets: [{ url: "${upstream.url}" }]
`,
      {},
      'http2: true',
    ),
  );
}

/** The answer is whole: its head, and as much body as its Content-Length says. */
function whole(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
  return text.length >= end + 4 + length;
}

/** Sends these bytes on a connection of their own and returns the answer's status. */
async function send(gw: TestGateway, bytes: string): Promise<number> {
  const answer = await rawUntil(gw.port, bytes, whole, 5_000);
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
}

const head = (line: string, id: string, ...fields: string[]) =>
  `${line}\r\nHost: a\r\nX-Request-Id: ${id}\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`;

test('HTTP/1.1: every answer logs the bytes read of its request, head and body, to the byte', async () => {
  const gw = await gateway();

  const get = head('GET /any HTTP/1.1', 'proxied-get');
  assert.equal(await send(gw, get), 200);
  assert.equal((await gw.logFor('proxied-get')).bytes_in, get.length);

  const post = `${head('POST /any HTTP/1.1', 'proxied-post', 'Content-Length: 11')}hello world`;
  assert.equal(await send(gw, post), 200);
  assert.equal((await gw.logFor('proxied-post')).bytes_in, post.length);

  // 413 for an announced length: answered before the body, of which nothing was sent.
  const tooLong = head('POST /small HTTP/1.1', 'too-long', 'Content-Length: 100');
  assert.equal(await send(gw, tooLong), 413);
  assert.equal((await gw.logFor('too-long')).bytes_in, tooLong.length);

  // 429: the second request of a client past its route's rate.
  const limited = head('GET /limited HTTP/1.1', 'first');
  assert.equal(await send(gw, limited), 200);
  const refused = head('GET /limited HTTP/1.1', 'rate-limited');
  assert.equal(await send(gw, refused), 429);
  assert.equal((await gw.logFor('rate-limited')).bytes_in, refused.length);

  // 403: the client's address is on the route's deny list.
  const denied = head('GET /denied HTTP/1.1', 'ip-denied');
  assert.equal(await send(gw, denied), 403);
  assert.equal((await gw.logFor('ip-denied')).bytes_in, denied.length);

  // 400: refused by the parser, a field name with a space in it.
  const malformed = head('GET /any HTTP/1.1', 'malformed', 'Bad Field: x');
  assert.equal(await send(gw, malformed), 400);
  assert.equal((await gw.logFor('malformed')).bytes_in, malformed.length);

  // 400: a chunked body whose framing breaks after the head.
  const chunked = `${head('POST /any HTTP/1.1', 'bad-chunk', 'Transfer-Encoding: chunked')}5\r\nhello\r\nzz\r\n`;
  assert.equal(await send(gw, chunked), 400);
  assert.equal((await gw.logFor('bad-chunk')).bytes_in, chunked.length);
});

test('HTTP/1.1: pipelined requests in one write each count their own bytes', async () => {
  const gw = await gateway();
  const first = `${head('POST /any HTTP/1.1', 'pipelined-1', 'Content-Length: 3')}abc`;
  const second = head('GET /any/second HTTP/1.1', 'pipelined-2', 'Connection: close');
  await rawUntil(gw.port, first + second, () => false, 5_000);
  assert.equal((await gw.logFor('pipelined-1')).bytes_in, first.length);
  assert.equal((await gw.logFor('pipelined-2')).bytes_in, second.length);
});

test('HTTP/1.1: a head past the limits is logged with what was read of it (431, 414)', async () => {
  const gw = await gateway();
  // One write; the gateway stops reading where the head passed its limit (1 KiB), in the read
  // that carried it: not less than the limit, not more than was sent.
  const big = head('GET /any HTTP/1.1', 'too-large', `X-Big: ${'b'.repeat(1_500)}`);
  assert.equal(await send(gw, big), 431);
  const bigIn = (await gw.logFor('too-large')).bytes_in as number;
  assert.ok(bigIn > 1_024 && bigIn <= big.length, `431: ${bigIn} of ${big.length}`);

  const longTarget = head(`GET /${'t'.repeat(400)} HTTP/1.1`, 'too-long-target');
  assert.equal(await send(gw, longTarget), 414);
  const lines = gw.logs.filter((l) => l.msg === 'request' && l.status === 414);
  assert.equal(lines.length, 1);
  const targetIn = lines[0].bytes_in as number;
  assert.ok(targetIn > 256 && targetIn <= longTarget.length, `414: ${targetIn} of ${longTarget.length}`);
});

/** RFC 9113 §6.5.2's size of a header list: each field's name and value, and 32. */
function headerListSize(fields: Record<string, string>): number {
  let size = 0;
  for (const [name, value] of Object.entries(fields)) size += name.length + value.length + 32;
  return size;
}

/** One request on its own HTTP/2 session: its status, once its stream closed. */
async function h2Send(gw: TestGateway, fields: Record<string, string>, body?: string): Promise<number> {
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  try {
    return await new Promise<number>((resolve, reject) => {
      const stream = session.request(fields, { endStream: body === undefined });
      let status = 0;
      const timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5_000);
      stream.on('response', (h) => {
        status = Number(h[':status']);
      });
      stream.on('error', () => {});
      stream.resume();
      stream.on('close', () => {
        clearTimeout(timer);
        resolve(status);
      });
      if (body !== undefined) stream.end(body);
    });
  } finally {
    session.close();
  }
}

test('HTTP/2: the head as its header list counts, and the DATA read, refused or not', async () => {
  const gw = await gateway();
  const authority = `127.0.0.1:${gw.port}`;
  const base = { ':scheme': 'http', ':authority': authority };

  const denied = { ':method': 'GET', ':path': '/denied', ...base, 'x-request-id': 'h2-denied' };
  assert.equal(await h2Send(gw, denied), 403);
  assert.equal((await gw.logFor('h2-denied')).bytes_in, headerListSize(denied));

  const post = {
    ':method': 'POST',
    ':path': '/any',
    ...base,
    'content-length': '11',
    'x-request-id': 'h2-post',
  };
  assert.equal(await h2Send(gw, post, 'hello world'), 200);
  assert.equal((await gw.logFor('h2-post')).bytes_in, headerListSize(post) + 11);

  const longTarget = { ':method': 'GET', ':path': `/${'t'.repeat(400)}`, ...base, 'x-request-id': 'h2-414' };
  assert.equal(await h2Send(gw, longTarget), 414);
  assert.equal((await gw.logFor('h2-414')).bytes_in, headerListSize(longTarget));
});
