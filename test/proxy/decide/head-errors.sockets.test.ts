/**
 * A HEAD the gateway answers with a failure gets the head its GET would (RFC 9110 §9.3.2): the
 * same status, negotiated Content-Type, the Content-Length of the body it would have, Proxy-Status,
 * no-store, nosniff, the request id and Retry-After where due, and no body. Over HTTP/1.1 the
 * connection stays in step (the next request on it is answered as itself, never read from a body
 * that was not sent); over HTTP/2 the stream ends with the head.
 */
import assert from 'node:assert/strict';
import http2, { type IncomingHttpHeaders } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

/** The parts of an HTTP/1.1 answer: status, fields by lower-case name, body. */
function parse(raw: string): { status: number; fields: Map<string, string>; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  const [line, ...rest] = raw.slice(0, end).split('\r\n');
  const fields = new Map<string, string>();
  for (const field of rest) {
    const colon = field.indexOf(':');
    fields.set(field.slice(0, colon).toLowerCase(), field.slice(colon + 1).trim());
  }
  return { status: Number(line.split(' ')[1]), fields, body: raw.slice(end + 4) };
}

/** Fields that differ between two answers to the same failure whatever the method. */
const PER_ANSWER = new Set(['date', 'x-request-id', 'proxy-status', 'content-length']);

const CASES = [
  {
    path: '/refused',
    accept: 'application/json',
    status: 502,
    error: 'connection_refused',
    retryAfter: undefined,
  },
  { path: '/down', accept: 'text/html', status: 503, error: 'proxy_internal_response', retryAfter: '120' },
  { path: '/limited', accept: 'text/plain', status: 429, error: 'http_request_denied', retryAfter: '1000' },
  {
    path: '/nowhere',
    accept: 'application/problem+json',
    status: 404,
    error: 'destination_not_found',
    retryAfter: undefined,
  },
] as const;

describe('a HEAD answered with a failure', () => {
  let gw: TestGateway;
  const closers: (() => Promise<void>)[] = [];
  before(async () => {
    const refusing = await startRefusing();
    const echo = await startEcho();
    closers.push(
      () => refusing.close(),
      () => echo.close(),
    );
    gw = await startTestGateway(
      `name: edge-1
routes:
  - { match: { path: /refused }, upstream: refusing }
  - { match: { path: /down }, upstream: echo, maintenance: { retry_after: 2m, message: Back soon. } }
  - { match: { path: /limited }, upstream: echo, rate_limit: { rate: 0.001, burst: 1, key: "header:X-Key" } }
  - { match: { path: /echo }, upstream: echo }
upstreams:
  refusing: { targets: [{ url: ${refusing.url} }], retries: { attempts: 1 } }
  echo: { targets: [{ url: ${echo.url} }] }
`,
      {},
      'http2: true',
    );
    closers.unshift(() => gw.close());
  });
  after(async () => {
    for (const close of closers) await close();
  });

  for (const c of CASES) {
    test(`HTTP/1.1 ${c.status} ${c.error}: the GET's head without its body, and the connection stays in step`, async () => {
      // The rate limit's one token goes to the GET of the same key first: its 429 is then the HEAD's too.
      const key = `X-Key: h1-${c.path}\r\n`;
      if (c.path === '/limited')
        await rawRequest(
          gw.port,
          `GET /limited HTTP/1.1\r\nHost: edge.test\r\n${key}Connection: close\r\n\r\n`,
        );
      const ask = (method: string) =>
        `${method} ${c.path} HTTP/1.1\r\nHost: edge.test\r\nAccept: ${c.accept}\r\n${key}`;
      const get = parse((await rawRequest(gw.port, `${ask('GET')}Connection: close\r\n\r\n`)).raw);
      // The HEAD, then on the same connection a request the echo answers.
      const both = await rawRequest(
        gw.port,
        `${ask('HEAD')}\r\nGET /echo HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n`,
      );
      const second = both.raw.indexOf('HTTP/1.1 200 ');
      assert.ok(second > 0, `the next request on the connection is answered: ${both.raw}`);
      const head = parse(both.raw.slice(0, second));
      assert.equal(head.status, c.status);
      assert.equal(head.body, '', 'no body');
      assert.equal(get.status, c.status);
      assert.equal(head.fields.get('connection'), 'keep-alive');
      for (const [name, value] of get.fields)
        if (!PER_ANSWER.has(name) && name !== 'connection') assert.equal(head.fields.get(name), value, name);
      assert.equal(head.fields.get('cache-control'), 'no-store');
      assert.equal(head.fields.get('x-content-type-options'), 'nosniff');
      assert.equal(head.fields.get('retry-after'), c.retryAfter);
      assert.match(
        String(head.fields.get('proxy-status')),
        new RegExp(`^edge-1; error=${c.error}; details="`),
      );
      assert.match(String(head.fields.get('x-request-id')), /^[0-9a-f-]{36}$/);
      if (c.status !== 502)
        assert.equal(
          head.fields.get('content-length'),
          String(Buffer.byteLength(get.body, 'latin1')),
          "the GET's body length",
        );
      const line = await gw.logFor(String(head.fields.get('x-request-id')));
      assert.equal(line.method, 'HEAD');
      assert.equal(line.status, c.status);
      assert.equal(line.error, c.error);
    });
  }

  test('HTTP/2: the same heads, with END_STREAM on the HEADERS frame and no DATA', async () => {
    const session = http2.connect(gw.url);
    try {
      for (const c of CASES) {
        const ask = (method: string) =>
          new Promise<{ headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
            const stream = session.request({
              ':method': method,
              ':path': c.path,
              accept: c.accept,
              'x-key': `h2-${c.path}`,
            });
            let headers: IncomingHttpHeaders = {};
            let body = '';
            stream.on('response', (h) => {
              headers = h;
            });
            stream.setEncoding('utf8');
            stream.on('data', (d: string) => {
              body += d;
            });
            stream.on('error', reject);
            stream.on('close', () => resolve({ headers, body }));
          });
        // The rate limit's one token for the key goes to a first GET: the next GET and the HEAD get its 429.
        if (c.path === '/limited') await ask('GET');
        const get = await ask('GET');
        const head = await ask('HEAD');
        assert.equal(head.headers[':status'], c.status, c.path);
        assert.equal(head.body, '', `${c.path}: no body`);
        for (const name of ['content-type', 'cache-control', 'x-content-type-options', 'vary', 'retry-after'])
          assert.equal(head.headers[name], get.headers[name], `${c.path} ${name}`);
        assert.equal(head.headers['retry-after'], c.retryAfter, c.path);
        assert.match(
          String(head.headers['proxy-status']),
          new RegExp(`^edge-1; error=${c.error}; details="`),
        );
        if (c.status !== 502)
          assert.equal(head.headers['content-length'], String(Buffer.byteLength(get.body)), c.path);
        else assert.ok(Number(head.headers['content-length']) > 0, c.path);
      }
    } finally {
      session.close();
    }
  });
});
