/**
 * The gateway's own answers to what a client asks of a representation: a Range, a condition, an
 * encoding it accepts, an HTTP/1.0 connection, a HEAD. None of these applies to an error the
 * gateway makes (RFC 9110 §14.2: Range applies to a 200 only; §13.2.2: conditions are ignored
 * when the answer would not be a 2xx; a route's compression is for the upstream's answers): the
 * 502 goes whole, uncompressed, `Cache-Control: no-store`, `Vary: Accept` (the body is negotiated
 * by it, and by nothing else), its `Content-Length` exact, on a route that compresses and caches.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { rawRequest } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';

const keep = closeAfterAll();
let gw: TestGateway;

before(async () => {
  const refused = await freePort();
  gw = await keep(
    startTestGateway(`name: edge-1
routes:
  - match: { path: /app }
    upstream: app
    compression: { encodings: [gzip, br], min_size: 1, types: [text/*, application/problem+json] }
    cache: {}
upstreams:
  app:
    targets: [{ url: http://127.0.0.1:${refused} }]
    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 0 }
`),
  );
});

interface Answer {
  readonly line: string;
  readonly fields: Map<string, string>;
  readonly body: Buffer;
  readonly closed: boolean;
}

async function ask(head: string): Promise<Answer> {
  const { raw, closed } = await rawRequest(gw.port, head);
  const bytes = Buffer.from(raw, 'latin1');
  const end = bytes.indexOf('\r\n\r\n');
  const [line, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const fields = new Map<string, string>();
  for (const l of lines) {
    const name = l.slice(0, l.indexOf(':')).toLowerCase();
    assert.equal(fields.has(name), false, `${name} once`);
    fields.set(name, l.slice(l.indexOf(':') + 1).trim());
  }
  return { line, fields, body: bytes.subarray(end + 4), closed };
}

const ASKS: readonly (readonly [string, string])[] = [
  ['a Range', 'Range: bytes=0-9\r\n'],
  ['a Range with If-Range', 'Range: bytes=0-9\r\nIf-Range: "v1"\r\n'],
  ['If-None-Match: *', 'If-None-Match: *\r\n'],
  ['an If-Modified-Since in the future', 'If-Modified-Since: Sun, 01 Jan 2090 00:00:00 GMT\r\n'],
  ['Accept-Encoding: gzip, br', 'Accept-Encoding: gzip, br\r\n'],
  ['all of them', 'Range: bytes=0-9\r\nIf-None-Match: "x"\r\nAccept-Encoding: gzip\r\n'],
];

for (const accept of ['application/json', 'text/html']) {
  for (const [what, fields] of ASKS) {
    test(`${what}, Accept ${accept}: the whole 502, uncompressed, no-store, Vary: Accept`, async () => {
      const a = await ask(
        `GET /app HTTP/1.1\r\nHost: gw.test\r\nAccept: ${accept}\r\n${fields}Connection: close\r\n\r\n`,
      );
      assert.equal(a.line, 'HTTP/1.1 502 Bad Gateway');
      assert.equal(a.fields.get('content-encoding'), undefined);
      assert.equal(a.fields.get('content-range'), undefined);
      assert.equal(a.fields.get('etag'), undefined);
      assert.equal(a.fields.get('cache-control'), 'no-store');
      assert.equal(a.fields.get('vary'), 'Accept');
      assert.equal(a.fields.get('transfer-encoding'), undefined);
      assert.equal(Number(a.fields.get('content-length')), a.body.length);
      assert.match(String(a.fields.get('proxy-status')), /^edge-1; error=connection_refused; details="/);
      if (accept === 'application/json') {
        assert.equal(a.fields.get('content-type'), 'application/problem+json');
        const problem = JSON.parse(a.body.toString('utf8'));
        assert.equal(problem.status, 502);
        assert.equal(problem.request_id, a.fields.get('x-request-id'));
      } else assert.equal(a.fields.get('content-type'), 'text/html; charset=utf-8');
    });
  }
}

test("HEAD: the GET's head, its Content-Length the body it would have had, and no body", async () => {
  const get = await ask(
    'GET /app HTTP/1.1\r\nHost: gw.test\r\nAccept: text/html\r\nConnection: close\r\n\r\n',
  );
  const head = await ask(
    'HEAD /app HTTP/1.1\r\nHost: gw.test\r\nAccept: text/html\r\nConnection: close\r\n\r\n',
  );
  assert.equal(head.line, 'HTTP/1.1 502 Bad Gateway');
  // The page says how long the refusal took ("after 7.4 ms"), as Proxy-Status's details do: the
  // two requests' own, whose digits may differ (9.8 ms, 10.2 ms on a loaded machine). The HEAD's
  // length is the GET's with the HEAD's details in place of the GET's.
  const details = (a: Answer) => /details="([^"]*)"/.exec(a.fields.get('proxy-status') ?? '')?.[1] ?? '';
  const said = get.body.toString('latin1').split(details(get)).length - 1;
  assert.ok(said >= 1, 'the page says the details');
  assert.equal(
    Number(head.fields.get('content-length')),
    Number(get.fields.get('content-length')) + said * (details(head).length - details(get).length),
  );
  assert.deepEqual(
    [...head.fields.keys()].filter((k) => k !== 'date'),
    [...get.fields.keys()].filter((k) => k !== 'date'),
  );
  assert.equal(head.body.length, 0);
});

test('an HTTP/1.0 client, keep-alive asked: Content-Length framing, and the connection closes', async () => {
  const a = await ask('GET /app HTTP/1.0\r\nHost: gw.test\r\nConnection: keep-alive\r\n\r\n');
  assert.equal(a.line, 'HTTP/1.1 502 Bad Gateway');
  assert.equal(a.fields.get('transfer-encoding'), undefined);
  assert.equal(Number(a.fields.get('content-length')), a.body.length);
  assert.equal(a.fields.get('connection'), 'close');
  assert.equal(a.closed, true);
});
