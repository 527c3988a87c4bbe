/**
 * A request's trailers are read and not forwarded (docs/http2-and-grpc.md), over HTTP/2 and in a
 * chunked HTTP/1.1 body alike: so the `Trailer` field that announces them does not go either. It
 * went, and told the upstream of a trailer section that never came (a body framed by
 * Content-Length, which can carry none), as an answer's is dropped where no trailers can follow.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { test } from 'node:test';
import { scriptedUpstream } from '../../../helpers/scripted-upstream.ts';
import { singleUpstream, startTestGateway } from '../../../helpers/test-gateway.ts';

test('the Trailer field of a request whose trailers are not forwarded does not reach the upstream (HTTP/2 and HTTP/1.1)', async (t) => {
  const upstream = await scriptedUpstream((socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  const gw = await startTestGateway(singleUpstream(upstream.url), {}, 'http2: true');
  t.after(async () => {
    await gw.close();
    await upstream.close();
  });

  const status = await new Promise<unknown>((resolve, reject) => {
    const session = http2.connect(gw.url);
    session.on('error', reject);
    const stream = session.request(
      { ':method': 'POST', ':path': '/h2', trailer: 'x-trail' },
      { waitForTrailers: true },
    );
    let got: unknown;
    stream.on('response', (h) => {
      got = h[':status'];
    });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-trail': 'yes' }));
    stream.resume();
    stream.on('error', reject);
    stream.on('close', () => {
      session.close();
      resolve(got);
    });
    stream.end('hello');
  });
  assert.equal(status, 200);

  const h1 = net.connect(gw.port, '127.0.0.1');
  h1.write(
    'POST /h1 HTTP/1.1\r\nHost: example.test\r\nTrailer: X-Trail\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
      '5\r\nhello\r\n0\r\nX-Trail: yes\r\n\r\n',
  );
  let raw = '';
  h1.setEncoding('latin1');
  for await (const chunk of h1) raw += chunk;
  assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);

  const heads = upstream.requests.map((r) => r.head);
  assert.equal(heads.length, 2);
  assert.match(heads[0], /^POST \/h2 HTTP\/1\.1\r\n/);
  assert.match(heads[1], /^POST \/h1 HTTP\/1\.1\r\n/);
  for (const head of heads) {
    assert.match(head, /\r\ncontent-length: 5(\r\n|$)/i);
    assert.doesNotMatch(head, /trailer/i);
  }
});
