/**
 * Interim (1xx) answers and `Expect: 100-continue` end to end (RFC 9110 §10.1.1, §15.2; RFC 9112),
 * one table of the cases the neighbouring files do not hold, through a real gateway, a raw
 * upstream writing exact bytes, and raw HTTP/1.x and node:http2 clients: each 1xx of the
 * upstream's passed on to an HTTP/1.1 and an HTTP/2 client, none to an HTTP/1.0 one; one `100` at
 * most, Candor's own; the response clock running through a drip of them; a 1xx with content, or a
 * 101 nobody asked for after one, a 502; an attempt cut after its 1xx retried with its body; and
 * the route's `response_headers.remove` holding on interim heads as on the final one.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type RawConnection, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const FINAL =
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-Powered-By: php/5\r\n\r\nfinal';
const HINTS =
  'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nX-Powered-By: php/5\r\nServer: internal\r\n\r\n' +
  'HTTP/1.1 103 Early Hints\r\nLink: </b.js>; rel=preload\r\nLink: </c.js>; rel=preload\r\n\r\n' +
  'HTTP/1.1 102 Processing\r\n\r\n';

/** What the upstream writes for each path, every request of every connection. */
async function answer(c: RawConnection): Promise<void> {
  for (;;) {
    const req = await c.nextRequest({ body: true });
    if (req.path === '/drip') {
      // A 103 every 100 ms, never a final head: the response clock must still run out.
      while (!c.socket.destroyed && !c.record.closed) {
        c.socket.write('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return;
    }
    if (req.path === '/half') {
      // Half its body, then the rest once the gateway has it: a pipelined request waits behind it.
      await c.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345');
      await new Promise((resolve) => setTimeout(resolve, 200));
      await c.write('67890');
    } else if (req.path === '/then-101')
      await c.write(
        'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n',
      );
    else if (req.path === '/interim-content')
      // A 1xx has no content (RFC 9112 §6.3): its "abc" is where the next head should be.
      await c.write(`HTTP/1.1 102 Processing\r\nContent-Length: 3\r\n\r\nabc${FINAL}`);
    else if (req.path === '/echo')
      // A 100 of its own, which answers nothing: the gateway sent the client its own.
      await c.write(
        `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: ${req.bodyLength}\r\n\r\n${req.body.toString('latin1')}`,
      );
    else await c.write(HINTS + FINAL);
  }
}

/** The status lines of a raw answer, in order. */
const statusLines = (raw: string): string[] => raw.match(/HTTP\/1\.[01] \d{3}[^\r]*/g) ?? [];

/** Each head of a raw answer (interim and final), its fields' lower-cased names. */
function headNames(raw: string): string[][] {
  return raw
    .split(/\r\n\r\n/)
    .filter((part) => /^HTTP\/1\.1 \d{3}/.test(part))
    .map((head) =>
      head
        .split('\r\n')
        .slice(1)
        .map((line) => line.slice(0, line.indexOf(':')).toLowerCase()),
    );
}

describe('interim answers through one gateway', () => {
  let gw: TestGateway;
  let upstream: Awaited<ReturnType<typeof startRawFault>>;

  before(async () => {
    upstream = await startRawFault(answer);
    gw = await startTestGateway(
      `name: edge-1
routes:
  - match: { path: /drip }
    upstream: app
    timeouts: { response: 500ms }
  - match: { path: /small }
    upstream: app
    limits: { body: 16 }
  - match: { path: /set }
    upstream: app
    response_headers: { set: { Server: edge } }
  - match: { path: / }
    upstream: app
    response_headers: { remove: [X-Powered-By, Server] }
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    retries: { attempts: 1 }
`,
      {},
      'http2: true',
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test("an HTTP/1.1 client gets each 103 and the 102, then the 200; the route's remove holds on every head", async () => {
    const { raw } = await rawRequest(gw.port, 'GET /hints HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.deepEqual(statusLines(raw), [
      'HTTP/1.1 103 Early Hints',
      'HTTP/1.1 103 Early Hints',
      'HTTP/1.1 102 Processing',
      'HTTP/1.1 200 OK',
    ]);
    assert.match(raw, /\r\nLink: <\/b\.js>; rel=preload\r\nLink: <\/c\.js>; rel=preload\r\n/);
    const heads = headNames(raw);
    assert.equal(heads.length, 4);
    for (const names of heads) {
      assert.ok(!names.includes('x-powered-by'), `no X-Powered-By: ${raw}`);
      assert.ok(!names.includes('server'), `no Server: ${raw}`);
    }
    assert.ok(raw.endsWith('\r\n\r\nfinal'));
  });

  test("a field the route's `set` writes is the route's: the upstream's is out of every 103 too, the 200 says the route's", async () => {
    const { raw } = await rawRequest(gw.port, 'GET /set HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const heads = raw.split(/\r\n\r\n/).filter((part) => /^HTTP\/1\.1 \d{3}/.test(part));
    assert.equal(heads.length, 4);
    for (const head of heads.slice(0, 3)) assert.doesNotMatch(head, /\r\nserver:/i, head);
    assert.match(heads[3], /\r\nServer: edge(\r\n|$)/);
    assert.doesNotMatch(heads[3], /internal/);
  });

  test('an HTTP/1.0 client gets no 1xx (RFC 9110 §15.2): the 200 alone', async () => {
    const { raw } = await rawRequest(gw.port, 'GET /hints HTTP/1.0\r\nHost: a\r\n\r\n');
    assert.deepEqual(statusLines(raw), ['HTTP/1.1 200 OK']);
    assert.ok(raw.endsWith('\r\n\r\nfinal'));
  });

  test('an HTTP/2 client: one 100 (Candor’s, not the upstream’s too), each 1xx without the removed fields, then the 200', async () => {
    const seen = await new Promise<{ interim: http2.IncomingHttpHeaders[]; status: unknown; body: string }>(
      (resolve, reject) => {
        const session = http2.connect(gw.url);
        session.on('error', reject);
        const stream = session.request(
          { ':method': 'POST', ':path': '/echo', expect: '100-continue' },
          { endStream: false },
        );
        const interim: http2.IncomingHttpHeaders[] = [];
        let status: unknown;
        let body = '';
        stream.on('headers', (h) => interim.push(h));
        stream.on('continue', () => stream.end('hello'));
        stream.on('response', (h) => {
          status = h[':status'];
        });
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => {
          body += chunk;
        });
        stream.on('error', reject);
        stream.on('end', () => {
          session.close();
          resolve({ interim, status, body });
        });
      },
    );
    assert.deepEqual(
      seen.interim.map((h) => h[':status']),
      [100],
    );
    assert.equal(seen.status, 200);
    assert.equal(seen.body, 'hello');
    const hints = await new Promise<http2.IncomingHttpHeaders[]>((resolve, reject) => {
      const session = http2.connect(gw.url);
      session.on('error', reject);
      const stream = session.request({ ':path': '/hints' });
      const interim: http2.IncomingHttpHeaders[] = [];
      stream.on('headers', (h) => interim.push(h));
      stream.resume();
      stream.on('error', reject);
      stream.on('end', () => {
        session.close();
        resolve(interim);
      });
    });
    assert.deepEqual(
      hints.map((h) => h[':status']),
      [103, 103, 102],
    );
    assert.equal(hints[1].link, '</b.js>; rel=preload, </c.js>; rel=preload');
    for (const h of hints) {
      assert.equal(h['x-powered-by'], undefined);
      assert.equal(h.server, undefined);
    }
  });

  test('an HTTP/2 client whose announced body is past the limit: 413 from the head, no 100, nothing upstream', async () => {
    const before = upstream.received.length;
    const seen = await new Promise<{ interim: number[]; status: unknown }>((resolve, reject) => {
      const session = http2.connect(gw.url);
      session.on('error', reject);
      const stream = session.request(
        { ':method': 'POST', ':path': '/small', expect: '100-continue', 'content-length': '5000' },
        { endStream: false },
      );
      const interim: number[] = [];
      let status: unknown;
      stream.on('headers', (h) => interim.push(Number(h[':status'])));
      stream.on('response', (h) => {
        status = h[':status'];
      });
      stream.resume();
      stream.on('error', reject);
      stream.on('close', () => {
        session.close();
        resolve({ interim, status });
      });
    });
    assert.deepEqual(seen, { interim: [], status: 413 });
    assert.equal(upstream.received.length, before);
  });

  for (const [label, head, interim] of [
    // A request without content asks for none (RFC 9110 §10.1.1 lets the 100 go).
    [
      'Content-Length: 0',
      'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nExpect: 100-continue\r\n',
      [],
    ],
    [
      'a body, sent at once',
      'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n',
      ['HTTP/1.1 100 Continue'],
    ],
    [
      '100-CONTINUE (case-insensitive)',
      'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-CONTINUE\r\n',
      ['HTTP/1.1 100 Continue'],
    ],
    // RFC 9110 §10.1.1: a server MUST ignore a 100-continue expectation in an HTTP/1.0 request.
    [
      'an HTTP/1.0 request',
      'POST /echo HTTP/1.0\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n',
      [],
    ],
  ] as const) {
    test(`Expect: 100-continue, ${label}: ${interim.length === 0 ? 'no 100' : 'one 100, the gateway’s'}, then the answer`, async () => {
      const body = head.includes('Content-Length: 0') ? '' : 'hello';
      const { raw } = await rawRequest(gw.port, `${head}Connection: close\r\n\r\n${body}`);
      assert.deepEqual(statusLines(raw), [...interim, 'HTTP/1.1 200 OK']);
      assert.ok(raw.endsWith(`\r\n\r\n${body}`), raw);
    });
  }

  test('an Expect pipelined behind an answer still streaming: its 100 waits for that answer to end (one answer at a time)', async () => {
    const client = net.connect(gw.port, '127.0.0.1');
    let text = '';
    client.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    client.on('error', () => {});
    try {
      client.write(
        'GET /half HTTP/1.1\r\nHost: a\r\n\r\n' +
          'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
      );
      await waitUntil('asked for the body', () => text.includes('HTTP/1.1 100 Continue\r\n\r\n'));
      assert.match(
        text,
        /\r\n\r\n1234567890HTTP\/1\.1 100 Continue\r\n\r\n$/,
        'the 100 after the first answer whole',
      );
      client.write('hello');
      await waitUntil('the second answer whole', () => text.endsWith('\r\n\r\nhello'));
      assert.deepEqual(statusLines(text), ['HTTP/1.1 200 OK', 'HTTP/1.1 100 Continue', 'HTTP/1.1 200 OK']);
    } finally {
      client.destroy();
    }
  });

  test('a 103 every 100 ms and never a final head: 504 at the response timeout, the interim answers counted', async () => {
    const { raw } = await rawRequest(
      gw.port,
      'GET /drip HTTP/1.1\r\nHost: a\r\nX-Request-Id: interim-drip\r\nConnection: close\r\n\r\n',
      5000,
    );
    const lines = statusLines(raw);
    assert.equal(lines.at(-1), 'HTTP/1.1 504 Gateway Timeout');
    assert.ok(lines.slice(0, -1).every((line) => line === 'HTTP/1.1 103 Early Hints'));
    const line = await gw.logFor('interim-drip');
    assert.equal(line.error, 'http_response_timeout');
    assert.match(
      String(line.details),
      /^no final response head \(response timeout of 500 ms\) after \S+ ms, only \d+ interim \(1xx\) answers$/,
    );
  });

  for (const [path, details] of [
    ['/then-101', 'unexpected 101 Switching Protocols (no upgrade was requested)'],
    ['/interim-content', 'invalid status line: the response does not start with \\"HTTP/\\"'],
  ] as const) {
    test(`${path}: the 1xx before it relayed, then 502 http_protocol_error (${details})`, async () => {
      const { raw } = await rawRequest(
        gw.port,
        `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
      );
      const lines = statusLines(raw);
      assert.equal(lines.length, 2, raw);
      assert.match(lines[0], /^HTTP\/1\.1 10[23] /);
      assert.equal(lines[1], 'HTTP/1.1 502 Bad Gateway');
      assert.ok(raw.includes(`error=http_protocol_error; details="${details}"`), raw);
    });
  }
});

test('an attempt cut after its 103 (the client had its 100) is retried on the other target, with the body', async () => {
  let served = 0;
  const script = async (c: RawConnection): Promise<void> => {
    for (;;) {
      const req = await c.nextRequest({ body: true });
      if (served++ === 0) {
        await c.write('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n');
        c.socket.end();
        return;
      }
      await c.write(
        `HTTP/1.1 200 OK\r\nContent-Length: ${req.bodyLength}\r\n\r\n${req.body.toString('latin1')}`,
      );
    }
  };
  const a = await startRawFault(script);
  const b = await startRawFault(script);
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${a.url}
      - url: ${b.url}
    retries: { attempts: 2 }
`);
  try {
    const { raw } = await rawRequest(
      gw.port,
      'PUT /doc HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\nX-Request-Id: interim-retry\r\nConnection: close\r\n\r\nhello',
    );
    // The first attempt's 103 went before it failed: an interim answer is no answer.
    assert.deepEqual(statusLines(raw), [
      'HTTP/1.1 100 Continue',
      'HTTP/1.1 103 Early Hints',
      'HTTP/1.1 200 OK',
    ]);
    assert.ok(raw.endsWith('\r\n\r\nhello'), raw);
    const line = await gw.logFor('interim-retry');
    assert.equal(line.status, 200);
    assert.equal(line.attempts, 2);
    const bodies = [...a.received, ...b.received].map((r) => r.body.toString());
    assert.deepEqual(bodies, ['hello', 'hello']);
  } finally {
    await gw.close();
    await a.close();
    await b.close();
  }
});
