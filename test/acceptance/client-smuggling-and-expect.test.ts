/**
 * Acceptance cases for what a client sends, from RFC 9112 (§6.1, §6.3, §5.1, §5.2, §2.2),
 * RFC 9110 §10.1.1 and DESIGN.md's hostile-input rules: every smuggling attempt is a 400 from
 * the gateway that reaches no upstream and closes the connection (nothing after it is read as a
 * request); a body on a GET and a pipelined request behind it are both framed as sent;
 * Expect: 100-continue is answered by the gateway itself, before a final status it can decide.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { onlyLogLine, parseProxyStatus } from '../helpers/gateway-error.ts';
import { rawRequest } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { type ScriptedUpstream, scriptedUpstream } from '../helpers/scripted-upstream.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { freePort } from '../helpers/wait.ts';

let upstream: ScriptedUpstream;
let gw: TestGateway;

before(async () => {
  upstream = await scriptedUpstream((socket, req) => {
    const path = /^\S+ (\S+)/.exec(req.head)?.[1] ?? '';
    if (path === '/refuses-upload') {
      // Answers at the head, without reading the body it announced.
      socket.end('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 7\r\nConnection: close\r\n\r\ntoo big');
      return;
    }
    const body = `seen ${path}`;
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  });
  gw = await startTestGateway(singleUpstream(upstream.url, { upstream: '    retries: { attempts: 1 }' }));
});

after(() => closeAll(gw, upstream));

/** The status lines of the answers in `raw` (a body here never holds one; one may end just before the next). */
function statusLines(raw: string): string[] {
  return raw.match(/HTTP\/1\.[01] \d{3} [^\r\n]*/g) ?? [];
}

/** The header block of the first answer in `raw`, as name (lower case) → value. */
function firstHead(raw: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of raw.slice(0, raw.indexOf('\r\n\r\n')).split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    fields.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return fields;
}

const SMUGGLING: [string, string, RegExp][] = [
  [
    'Content-Length and Transfer-Encoding together (CL.TE)',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
    /Content-Length and Transfer-Encoding/,
  ],
  [
    'a folded header line (obs-fold)',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nX-A: a\r\n Transfer-Encoding: chunked\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
    /obs-fold/,
  ],
  [
    'a bare CR inside a field value',
    'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rTransfer-Encoding: chunked\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
    /bare CR/,
  ],
  [
    'whitespace between a field name and its colon',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 38\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
    /header field name/,
  ],
  [
    'Transfer-Encoding not ending in chunked, on two lines',
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
    /must end in chunked/,
  ],
  [
    'a Content-Length list',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhelloGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
    /invalid Content-Length/,
  ],
  [
    'a chunk size in hex with 0x',
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
    /invalid chunk size "0x5"/,
  ],
];

describe('request smuggling attempts', () => {
  for (const [name, bytes, details] of SMUGGLING) {
    test(`${name}: 400, closed, nothing upstream`, async () => {
      const before = upstream.requests.length;
      const res = await rawRequest(gw.port, bytes);
      assert.equal(res.status, 400, res.raw);
      assert.ok(res.closed, 'the connection closes: its framing is in doubt');
      assert.deepEqual(
        statusLines(res.raw),
        ['HTTP/1.1 400 Bad Request'],
        'one answer, no second request read',
      );
      const head = firstHead(res.raw);
      const entry = parseProxyStatus(head.get('proxy-status'));
      assert.equal(entry.error, 'http_request_error');
      assert.match(entry.details ?? '', details);
      assert.equal(entry.nextHop, undefined, 'the gateway refused it itself: no next hop');
      assert.equal(head.get('cache-control'), 'no-store');
      assert.equal(head.get('connection'), 'close');
      assert.equal(head.get('retry-after'), undefined);
      assert.equal(upstream.requests.length, before, 'nothing reached the upstream');
      const id = head.get('x-request-id') ?? '';
      assert.ok(res.raw.includes(`request id: ${id}`), 'the plain-text body quotes the request id');
      const line = await onlyLogLine(gw, id);
      assert.equal(line.status, 400);
      assert.equal(line.error, 'http_request_error');
      assert.equal(line.shape, 'client');
      assert.equal(line.upstream, undefined);
      assert.equal(line.attempts, 0);
    });
  }
});

describe('bodies and pipelining', () => {
  test('a GET with a Content-Length body, then a pipelined GET: two requests, each framed as sent', async () => {
    const before = upstream.requests.length;
    const res = await rawRequest(
      gw.port,
      'GET /with-body HTTP/1.1\r\nHost: x\r\nContent-Length: 25\r\n\r\nGET /hidden HTTP/1.1\r\n\r\nXGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.deepEqual(statusLines(res.raw), ['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK']);
    assert.ok(res.raw.includes('seen /with-body') && res.raw.includes('seen /second'));
    const seen = upstream.requests.slice(before).map((r) => r.head.split('\r\n')[0]);
    assert.deepEqual(seen, ['GET /with-body HTTP/1.1', 'GET /second HTTP/1.1'], 'the body was no request');
    const withBody = upstream.requests[before].head;
    assert.match(withBody, /\r\ncontent-length: 25(\r\n|$)/i, 'the body went on with its length');
  });

  test('a chunked body on a GET goes on with its length, and the pipelined request after it too', async () => {
    const before = upstream.requests.length;
    const res = await rawRequest(
      gw.port,
      'GET /chunked-get HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /after-chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.deepEqual(statusLines(res.raw), ['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK']);
    const heads = upstream.requests.slice(before).map((r) => r.head);
    assert.equal(heads.length, 2);
    assert.match(heads[0], /\r\ncontent-length: 5(\r\n|$)/i);
    assert.doesNotMatch(heads[0], /transfer-encoding/i);
  });
});

describe('Expect: 100-continue', () => {
  /** Sends `head`, waits for what the gateway says before any body, then `body` if given. */
  async function expectExchange(head: string, body?: Buffer): Promise<{ beforeBody: string; all: string }> {
    const socket = net.connect(gw.port, '127.0.0.1');
    let text = '';
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    socket.write(head);
    // The gateway answers before the body in every case here: wait for an answer to arrive.
    while (!/\r\n\r\n/.test(text)) await new Promise((resolve) => setTimeout(resolve, 5));
    const beforeBody = text;
    if (body) socket.write(body);
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1500))]);
    socket.destroy();
    return { beforeBody, all: text };
  }

  test('over the body limit: 413 at once, no 100, nothing upstream, the connection closed', async () => {
    const before = upstream.requests.length;
    const { beforeBody, all } = await expectExchange(
      'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 20000000\r\nExpect: 100-continue\r\n\r\n',
    );
    assert.match(beforeBody, /^HTTP\/1\.1 413 /);
    assert.doesNotMatch(all, / 100 Continue/);
    assert.match(all, /\r\nconnection: close\r\n/i);
    assert.match(
      all,
      /\r\nproxy-status: edge-1; error=http_request_error; details="[^"]*over the route's limit[^"]*"\r\n/i,
    );
    assert.equal(upstream.requests.length, before);
  });

  test('an upstream answering early with a final status: the client has its 100, then that answer, closed', async () => {
    const size = 3 * 1024 * 1024; // past limits.buffer: the body streams, the upstream sees the head first
    const { beforeBody, all } = await expectExchange(
      `POST /refuses-upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\nExpect: 100-continue\r\n\r\n`,
      Buffer.alloc(size, 97),
    );
    assert.match(beforeBody, /^HTTP\/1\.1 100 Continue\r\n\r\n/);
    const final = all.slice(all.indexOf('\r\n\r\n') + 4);
    assert.match(final, /^HTTP\/1\.1 413 Payload Too Large\r\n/);
    assert.match(
      final,
      /\r\nconnection: close\r\n/i,
      'the body was not all read: the connection cannot serve on',
    );
    assert.ok(
      final.endsWith('too big') || final.includes('\r\n\r\n7\r\ntoo big'),
      'the upstream body passes',
    );
    const head = upstream.requests.find((r) => r.head.startsWith('POST /refuses-upload'))?.head ?? '';
    assert.doesNotMatch(head, /\r\nexpect:/i, 'the expectation was the gateway’s to meet, not forwarded');
  });

  test('an open circuit is told from the head: 503 without a 100, the upload never asked for', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const gwOpen = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: dead
upstreams:
  dead:
    targets:
      - url: ${dead}
    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 1, open_time: 60s }
`);
    try {
      assert.equal(
        (await rawRequest(gwOpen.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status,
        502,
      );
      const socket = net.connect(gwOpen.port, '127.0.0.1');
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
      });
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.on('error', () => {});
      socket.write(
        'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n',
      );
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1500))]);
      socket.destroy();
      // RFC 9110 §10.1.1: a final status that the head alone decides is sent at once.
      assert.match(text, /^HTTP\/1\.1 503 Service Unavailable\r\n/, text.slice(0, 200));
      assert.doesNotMatch(text, / 100 Continue/);
      assert.match(
        text,
        /\r\nproxy-status: edge-1; error=destination_unavailable; details="the circuit of \\"dead\\" is open[^\r]*\r\n/i,
      );
      assert.match(text, /\r\nretry-after: \d+\r\n/i);
      assert.match(
        text,
        /\r\nconnection: close\r\n/i,
        'the body was never read: the connection cannot serve on',
      );
    } finally {
      await gwOpen.close();
    }
  });

  test('an expectation other than 100-continue is 417, nothing upstream', async () => {
    const before = upstream.requests.length;
    const res = await rawRequest(
      gw.port,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: something\r\n\r\nhello',
    );
    assert.equal(res.status, 417);
    assert.equal(upstream.requests.length, before);
  });

  test('an HTTP/1.0 request with the expectation gets no 1xx (RFC 9110 §10.1.1)', async () => {
    const res = await rawRequest(
      gw.port,
      'POST /old-client HTTP/1.0\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello',
    );
    assert.deepEqual(statusLines(res.raw), ['HTTP/1.1 200 OK']);
    assert.ok(res.raw.endsWith('seen /old-client'));
  });
});
