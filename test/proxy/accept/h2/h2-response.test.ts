/**
 * What an HTTP/2 client gets of an upstream's interim answers and trailers: each field as the
 * upstream sent it, whatever its name. Fields named like an Object's properties (`__proto__`,
 * `constructor`) gathered in a plain object read as the property already there: the client got
 * `constructor: function Array() { [native code] }, u` and lost `__proto__`.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import { startRawFault } from '../../../../src/kits/fault-kit/raw-server.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../../../helpers/test-gateway.ts';

/** A gateway with HTTP/2 on, in front of an upstream that writes `answer` to each request (closed after the test). */
async function gatewayOver(t: TestContext, answer: string): Promise<TestGateway> {
  const upstream = await startRawFault(async (c) => {
    for (;;) {
      await c.nextRequest();
      await c.write(answer);
    }
  });
  const gw = await startTestGateway(singleUpstream(upstream.url), {}, 'http2: true');
  t.after(async () => {
    await gw.close();
    await upstream.close();
  });
  return gw;
}

test('trailers and interim fields named like Object properties reach an HTTP/2 client as the upstream sent them', async (t) => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write(
      'HTTP/1.1 103 Early Hints\r\nconstructor: hint\r\nlink: </a.css>; rel=preload\r\n\r\n' +
        'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n__proto__: t\r\nconstructor: u\r\n\r\n',
    );
  });
  const gw = await startTestGateway(singleUpstream(upstream.url), {}, 'http2: true');
  t.after(async () => {
    await gw.close();
    await upstream.close();
  });
  const seen = await new Promise<{
    interim: http2.IncomingHttpHeaders[];
    trailers: http2.IncomingHttpHeaders;
  }>((resolve, reject) => {
    const session = http2.connect(gw.url);
    session.on('error', reject);
    const stream = session.request({ ':path': '/', te: 'trailers' });
    const interim: http2.IncomingHttpHeaders[] = [];
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on('headers', (h) => interim.push(h));
    stream.on('trailers', (h) => {
      trailers = h;
    });
    stream.resume();
    stream.on('error', reject);
    stream.on('close', () => {
      session.close();
      resolve({ interim, trailers });
    });
  });
  assert.equal(seen.interim.length, 1);
  assert.equal(seen.interim[0].constructor, 'hint');
  assert.equal(Object.getOwnPropertyDescriptor(seen.trailers, '__proto__')?.value, 't');
  assert.equal(Object.getOwnPropertyDescriptor(seen.trailers, 'constructor')?.value, 'u');
});

// node:http2 refuses to send twice a field it takes once (Content-Type, Date, ETag,
// X-Content-Type-Options…): the stream was reset INTERNAL_ERROR, and the log said 200.
test('a response head that repeats a field node:http2 takes once reaches an HTTP/2 client whole: a repeated value once, another joined with ", "', async (t) => {
  const big = 'x'.repeat(64 * 1024);
  const upstream = await startRawFault(async (c) => {
    for (;;) {
      const request = await c.nextRequest();
      const body = request.path === '/big' ? big : 'ok';
      await c.write(
        'HTTP/1.1 200 OK\r\nX-Content-Type-Options: nosniff\r\nX-Content-Type-Options: nosniff\r\n' +
          'Content-Type: text/plain\r\nContent-Type: text/html\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n' +
          `Date: Tue, 24 Nov 2026 06:00:00 GMT\r\nDate: Tue, 24 Nov 2026 06:00:00 GMT\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
    }
  });
  const gw = await startTestGateway(singleUpstream(upstream.url), {}, 'http2: true');
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  t.after(async () => {
    session.destroy();
    await gw.close();
    await upstream.close();
  });
  for (const path of ['/small', '/big']) {
    const seen = await new Promise<{ head: http2.IncomingHttpHeaders; body: string; rstCode?: number }>(
      (resolve) => {
        const stream = session.request({ ':path': path, 'x-request-id': path });
        let head: http2.IncomingHttpHeaders = {};
        let body = '';
        stream.on('response', (h) => {
          head = h;
        });
        stream.setEncoding('latin1');
        stream.on('data', (chunk: string) => {
          body += chunk;
        });
        stream.on('error', () => {});
        stream.on('close', () => resolve({ head, body, rstCode: stream.rstCode }));
      },
    );
    assert.equal(seen.rstCode, 0, `${path}: not reset`);
    assert.equal(seen.head[':status'], 200);
    assert.equal(seen.head['x-content-type-options'], 'nosniff');
    assert.equal(seen.head['content-type'], 'text/plain, text/html');
    assert.equal(seen.head.date, 'Tue, 24 Nov 2026 06:00:00 GMT');
    assert.deepEqual(seen.head['set-cookie'], ['a=1', 'b=2']);
    assert.equal(seen.body, path === '/big' ? big : 'ok');
    const line = await gw.logFor(path);
    assert.equal(line.status, 200);
    assert.equal(line.error, undefined);
  }
});

// RFC 9110 §7.6.1: a proxy removes "any header or trailer field(s)" a Connection field names.
// The head's were removed; a trailer of the same name reached the client (as HAProxy relays it).
test('a trailer field the answer head names in Connection is hop-by-hop: it reaches neither an HTTP/2 nor an HTTP/1.1 client', async (t) => {
  const gw = await gatewayOver(
    t,
    'HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: head\r\ntransfer-encoding: chunked\r\n\r\n' +
      '2\r\nok\r\n0\r\nX-Hop: secret\r\nx-hop: again\r\nX-Keep: 2\r\n\r\n',
  );
  const seen = await new Promise<{
    head: http2.IncomingHttpHeaders;
    body: string;
    trailers: http2.IncomingHttpHeaders;
  }>((resolve, reject) => {
    const session = http2.connect(gw.url);
    session.on('error', reject);
    const stream = session.request({ ':path': '/', te: 'trailers' });
    let head: http2.IncomingHttpHeaders = {};
    let body = '';
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      head = h;
    });
    stream.on('trailers', (h) => {
      trailers = h;
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      body += chunk;
    });
    stream.on('error', reject);
    stream.on('close', () => {
      session.close();
      resolve({ head, body, trailers });
    });
  });
  assert.equal(seen.head[':status'], 200);
  assert.equal(seen.head['x-hop'], undefined);
  assert.equal(seen.body, 'ok');
  assert.deepEqual(Object.fromEntries(Object.entries(seen.trailers)), { 'x-keep': '2' });

  const h1 = net.connect(gw.port, '127.0.0.1');
  h1.write('GET / HTTP/1.1\r\nHost: example.test\r\nTE: trailers\r\nConnection: close\r\n\r\n');
  let raw = '';
  h1.setEncoding('latin1');
  for await (const chunk of h1) raw += chunk;
  assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
  assert.doesNotMatch(raw, /x-hop/i);
  assert.match(raw, /\r\n2\r\nok\r\n0\r\nX-Keep: 2\r\n\r\n$/);
});

// RFC 9110 §8.6: no 1xx carries Content-Length. Relayed, it made the 103 a malformed answer to
// an HTTP/2 client (RFC 9113 §8.1.1), which reset the stream: the 200 behind it never arrived
// (nginx and HAProxy relay it too). HTTP/1.1's writer already left it out; pinned beside.
test("an interim answer's Content-Length is not relayed: the 103 and the 200 behind it reach an HTTP/2 and an HTTP/1.1 client", async (t) => {
  const gw = await gatewayOver(
    t,
    'HTTP/1.1 103 Early Hints\r\nContent-Length: 5\r\nLink: </a.css>; rel=preload\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  );
  const seen = await new Promise<{
    interim: http2.IncomingHttpHeaders[];
    status: unknown;
    body: string;
    rstCode: number | undefined;
  }>((resolve, reject) => {
    const session = http2.connect(gw.url);
    session.on('error', reject);
    const stream = session.request({ ':path': '/' });
    const interim: http2.IncomingHttpHeaders[] = [];
    let status: unknown;
    let body = '';
    stream.on('headers', (h) => interim.push(h));
    stream.on('response', (h) => {
      status = h[':status'];
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      body += chunk;
    });
    stream.on('error', () => {});
    stream.on('close', () => {
      session.close();
      resolve({ interim, status, body, rstCode: stream.rstCode });
    });
  });
  assert.equal(seen.rstCode, 0);
  assert.equal(seen.interim.length, 1);
  assert.equal(seen.interim[0][':status'], 103);
  assert.equal(seen.interim[0].link, '</a.css>; rel=preload');
  assert.equal(seen.interim[0]['content-length'], undefined);
  assert.equal(seen.status, 200);
  assert.equal(seen.body, 'ok');

  const h1 = net.connect(gw.port, '127.0.0.1');
  h1.write('GET / HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
  let raw = '';
  h1.setEncoding('latin1');
  for await (const chunk of h1) raw += chunk;
  const [early, final] = raw.split(/(?=HTTP\/1\.1 200 )/);
  assert.match(early, /^HTTP\/1\.1 103 Early Hints\r\n/);
  assert.match(early, /\r\nLink: <\/a\.css>; rel=preload\r\n/i);
  assert.doesNotMatch(early, /content-length/i);
  assert.match(final, /\r\n\r\nok$/);
});
