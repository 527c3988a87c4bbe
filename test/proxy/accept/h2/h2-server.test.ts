/**
 * Candor's downstream HTTP/2 server (src/proxy/accept/h2/*.ts) on real sockets with
 * node:http2's client: every stream an exchange behind the protocol-neutral interface (head,
 * body, sink), h2c by prior knowledge beside HTTP/1.1 on one plain port, h2 and HTTP/1.1 by
 * ALPN on TLS, trailers both ways, backpressure, and a cut response reset, never ended whole.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { test } from 'node:test';
import { startH2Fixture } from './h2-fixture.ts';
import { ERROR, FLAG, FRAME, headerBlock, headers, ping, RawH2Client, requestFields } from './h2-frames.ts';

const { constants } = http2;

interface H2Result {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
  trailers: http2.IncomingHttpHeaders | undefined;
  /** The stream's close code: 0 for a whole answer. */
  rstCode: number;
  ended: boolean;
}

function h2Request(
  client: http2.ClientHttp2Session,
  fields: http2.OutgoingHttpHeaders,
  body?: string | Buffer,
  trailers?: http2.OutgoingHttpHeaders,
): Promise<H2Result> {
  return new Promise((resolve) => {
    const stream = client.request(fields, {
      endStream: body === undefined,
      waitForTrailers: trailers !== undefined,
    });
    const result: H2Result = {
      status: 0,
      headers: {},
      body: '',
      trailers: undefined,
      rstCode: 0,
      ended: false,
    };
    stream.on('response', (h) => {
      result.status = Number(h[':status']);
      result.headers = h;
    });
    stream.on('trailers', (t) => {
      result.trailers = t;
    });
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => {
      result.body += c;
    });
    stream.on('end', () => {
      result.ended = true;
    });
    stream.on('error', () => {});
    stream.on('close', () => {
      result.rstCode = stream.rstCode ?? 0;
      resolve(result);
    });
    if (trailers !== undefined) stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    if (body !== undefined) stream.end(body);
  });
}

test('h2c by prior knowledge: the stream is an exchange with Host from :authority, cookies joined, no body', async () => {
  const fx = await startH2Fixture();
  const client = http2.connect(`http://127.0.0.1:${fx.port}`);
  try {
    const r = await h2Request(client, {
      ':path': '/a/b?c=1',
      ':authority': 'api.example.test:8080',
      'x-one': 'uno',
      cookie: ['a=1', 'b=2'],
    });
    assert.equal(r.status, 200);
    assert.equal(r.rstCode, 0);
    const seen = JSON.parse(r.body);
    assert.equal(seen.method, 'GET');
    assert.equal(seen.target, '/a/b?c=1');
    assert.equal(seen.bodyLength, null);
    assert.equal(seen.encrypted, false);
    assert.deepEqual(seen.headers.slice(0, 2), ['host', 'api.example.test:8080']);
    assert.ok(seen.headers.includes('x-one'));
    assert.equal(seen.headers[seen.headers.indexOf('cookie') + 1], 'a=1; b=2');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.deepEqual(r.trailers?.['x-body-bytes'], '0');
    assert.equal(seen.protocol, 'HTTP/2');
    // No body: none is handed over, and the exchange says it is complete.
    assert.equal(seen.hasBody, false);
    assert.equal(seen.bodyComplete, true);
    const head = fx.exchanges[0].head as { versionMajor: number; versionMinor: number; streamId?: number };
    assert.deepEqual([head.versionMajor, head.versionMinor], [1, 1]);
    assert.equal(head.streamId, 1);
    // The whole list, its length exact (made at the size it ends at): no pseudo-field, no hole.
    assert.deepEqual(fx.exchanges[0].head.headers, [
      'host',
      'api.example.test:8080',
      'x-one',
      'uno',
      'cookie',
      'a=1; b=2',
    ]);
  } finally {
    client.close();
    await fx.close();
  }
});

test('a request body is read with its length (or as unknown), and its trailers', async () => {
  const fx = await startH2Fixture();
  const client = http2.connect(`http://127.0.0.1:${fx.port}`);
  try {
    const sized = await h2Request(
      client,
      { ':method': 'POST', ':path': '/up', 'content-length': '5' },
      'hello',
    );
    assert.equal(JSON.parse(sized.body).bodyLength, 5);
    assert.equal(JSON.parse(sized.body).body, 'hello');
    assert.equal(JSON.parse(sized.body).bodyComplete, true);
    const open = await h2Request(client, { ':method': 'POST', ':path': '/up' }, 'streamed', {
      'x-check': 'ok',
    });
    const seen = JSON.parse(open.body);
    assert.equal(seen.bodyLength, 'chunked');
    assert.equal(seen.body, 'streamed');
    assert.deepEqual(seen.trailers, ['x-check', 'ok']);
    assert.equal(open.trailers?.['x-body-bytes'], '8');
  } finally {
    client.close();
    await fx.close();
  }
});

test('HTTP/1.1 on the same plain port goes to the HTTP/1.1 server (the preface tells them apart)', async () => {
  const fx = await startH2Fixture();
  try {
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: fx.port, path: '/one', agent: false }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
    assert.equal(JSON.parse(body).target, '/one');
    assert.equal(JSON.parse(body).protocol, 'HTTP/1.1');
  } finally {
    await fx.close();
  }
});

test('a plain connection that sends nothing is closed at the preface deadline', async () => {
  const fx = await startH2Fixture({ prefaceTimeoutMs: 100 });
  try {
    const socket = net.connect(fx.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    assert.equal(fx.exchanges.length, 0);
  } finally {
    await fx.close();
  }
});

// After ALPN chose h2 (or the h2c preface was read), a client that said nothing more was held
// until the idle timeout (75 s), where an HTTP/1.1 connection has limits.header_timeout.
test('a connection that opens HTTP/2 (ALPN h2, or the h2c preface) and sends no SETTINGS is closed at limits.header_timeout (GOAWAY SETTINGS_TIMEOUT), not kept to the idle timeout', async () => {
  for (const tls of [true, false]) {
    const fx = await startH2Fixture({ tls, headerTimeoutMs: 200 });
    try {
      const socket = tls
        ? (await import('node:tls')).connect({
            port: fx.port,
            host: '127.0.0.1',
            ALPNProtocols: ['h2'],
            ca: fx.ca,
            servername: 'localhost',
          })
        : net.connect(fx.port, '127.0.0.1', () => socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
      socket.on('error', () => {});
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      // The idle timeout (75 s) is far past this wait: only the header timeout closes it in time.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`still open after 10 s (tls: ${tls})`)), 10_000);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      assert.equal(fx.exchanges.length, 0);
      // Not NO_ERROR, a shutdown with nothing wrong: our SETTINGS went unacknowledged (RFC 9113 §6.5.3).
      const bytes = Buffer.concat(received);
      let goaway: number | undefined;
      for (let at = 0; at + 9 <= bytes.length; at += 9 + bytes.readUIntBE(at, 3))
        if (bytes[at + 3] === FRAME.GOAWAY) goaway = bytes.readUInt32BE(at + 13);
      assert.equal(goaway, ERROR.SETTINGS_TIMEOUT, `tls: ${tls}`);
    } finally {
      await fx.close();
    }
  }
});

test('TLS: ALPN h2 gets HTTP/2, ALPN http/1.1 gets the HTTP/1.1 server', async () => {
  const fx = await startH2Fixture({ tls: true });
  const client = http2.connect(`https://localhost:${fx.port}`, { ca: fx.ca });
  try {
    const r = await h2Request(client, { ':path': '/secure' });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).encrypted, true);
    assert.equal((client.socket as unknown as { alpnProtocol: string }).alpnProtocol, 'h2');
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get(
          {
            host: 'localhost',
            port: fx.port,
            path: '/old',
            ca: fx.ca,
            agent: false,
            // tls.connect's option, passed through by https (its types leave it out).
            ALPNProtocols: ['http/1.1'],
          } as https.RequestOptions,
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => {
              text += c;
            });
            res.on('end', () => resolve(text));
          },
        )
        .on('error', reject);
    });
    assert.equal(JSON.parse(body).target, '/old');
  } finally {
    client.close();
    await fx.close();
  }
});

test('a response cut after its head is reset with INTERNAL_ERROR, never ended as whole', async () => {
  const fx = await startH2Fixture({
    handle: (exchange) => {
      exchange.answer.sendHead(200, 'OK', ['content-type', 'text/plain']);
      exchange.answer.write(Buffer.from('first part'));
      setTimeout(() => exchange.answer.abort(), 20);
    },
  });
  const client = http2.connect(`http://127.0.0.1:${fx.port}`);
  try {
    const r = await h2Request(client, { ':path': '/cut' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'first part');
    assert.equal(r.ended, false);
    assert.equal(r.rstCode, constants.NGHTTP2_INTERNAL_ERROR);
    const finished = await new Promise<boolean>((resolve) => fx.exchanges[0].answer.onClose(resolve));
    assert.equal(finished, false);
  } finally {
    client.close();
    await fx.close();
  }
});

test('cut in the turn its head is held to: what was written leaves (the head, its body), then the reset', async () => {
  // An upstream's head, a chunk and a broken chunk size in one read: the session writes the
  // head and the chunk, then aborts, before the end of the turn the head was held to.
  const fx = await startH2Fixture({
    handle: (exchange) => {
      exchange.answer.deferToTurnEnd();
      exchange.answer.sendHead(200, 'OK', ['content-type', 'text/plain']);
      exchange.answer.write(Buffer.from('hello'));
      exchange.answer.abort();
    },
  });
  const client = http2.connect(`http://127.0.0.1:${fx.port}`);
  try {
    const r = await h2Request(client, { ':path': '/cut-at-once' });
    assert.equal(r.status, 200, 'the status the log says reached the client');
    assert.equal(r.body, 'hello');
    assert.equal(r.ended, false);
    assert.equal(r.rstCode, constants.NGHTTP2_INTERNAL_ERROR);
  } finally {
    client.close();
    await fx.close();
  }
});

test('a head and its end in one turn go out as one HEADERS frame with END_STREAM', async () => {
  const fx = await startH2Fixture({
    handle: (exchange) => {
      exchange.answer.sendHead(503, 'Service Unavailable', ['retry-after', '1', 'connection', 'close']);
      exchange.answer.end();
    },
  });
  const raw = await RawH2Client.connect(fx.port);
  try {
    raw.send(headers(1, headerBlock(requestFields('/'))));
    const answer = await raw.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === 1);
    assert.equal(answer.flags & FLAG.END_STREAM, FLAG.END_STREAM);
    // A PING's ACK comes after anything the server had queued for the stream.
    raw.send(ping());
    await raw.waitFor((f) => f.type === FRAME.PING && (f.flags & FLAG.ACK) !== 0);
    assert.equal(raw.frames.filter((f) => f.streamId === 1).length, 1);
  } finally {
    raw.close();
    await fx.close();
  }
});

test('a small answer whole in one turn goes out as HEADERS and one DATA frame with END_STREAM (no empty frame after it)', async () => {
  const fx = await startH2Fixture({
    handle: (exchange) => {
      exchange.answer.sendHead(200, 'OK', ['content-type', 'text/plain', 'content-length', '11']);
      exchange.answer.write(Buffer.from('hello '));
      exchange.answer.write(Buffer.from('world'));
      exchange.answer.end();
    },
  });
  const raw = await RawH2Client.connect(fx.port);
  try {
    raw.send(headers(1, headerBlock(requestFields('/'))));
    await raw.waitFor((f) => f.streamId === 1 && (f.flags & FLAG.END_STREAM) !== 0);
    raw.send(ping());
    await raw.waitFor((f) => f.type === FRAME.PING && (f.flags & FLAG.ACK) !== 0);
    const frames = raw.frames.filter((f) => f.streamId === 1);
    assert.deepEqual(
      frames.map((f) => [f.type, f.flags & FLAG.END_STREAM]),
      [
        [FRAME.HEADERS, 0],
        [FRAME.DATA, FLAG.END_STREAM],
      ],
    );
    assert.equal(frames[1].payload.toString(), 'hello world');
    assert.equal(await new Promise<boolean>((resolve) => fx.exchanges[0].answer.onClose(resolve)), true);
  } finally {
    raw.close();
    await fx.close();
  }
});

test('backpressure: write() says false past the window, and drain comes when the client reads', async () => {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let sawFalse = false;
  const fx = await startH2Fixture({
    handle: (exchange) => {
      const { answer: response } = exchange;
      response.sendHead(200, 'OK', []);
      let left = 16;
      const pump = () => {
        while (left > 0) {
          left--;
          if (!response.write(chunk)) {
            sawFalse = true;
            response.onDrain(pump);
            return;
          }
        }
        response.end();
      };
      pump();
    },
  });
  const client = http2.connect(`http://127.0.0.1:${fx.port}`);
  try {
    const r = await h2Request(client, { ':path': '/big' });
    assert.equal(r.body.length, 16 * chunk.length);
    assert.equal(r.ended, true);
    assert.equal(r.rstCode, 0);
    assert.equal(sawFalse, true);
  } finally {
    client.close();
    await fx.close();
  }
});

test('HEAD, 204 and 205 carry no body whatever is written; 100-continue and 103 go before the head', async () => {
  const fx = await startH2Fixture({
    handle: (exchange) => {
      const { answer: response } = exchange;
      if (exchange.head.target === '/early') {
        response.sendContinue();
        response.sendInterim(103, 'Early Hints', ['link', '</a.css>; rel=preload']);
      }
      const status = { '/none': 204, '/reset': 205 }[exchange.head.target] ?? 200;
      response.sendHead(status, 'OK', ['content-length', '4']);
      response.write(Buffer.from('body'));
      response.end();
    },
  });
  const client = http2.connect(`http://127.0.0.1:${fx.port}`);
  try {
    const head = await h2Request(client, { ':method': 'HEAD', ':path': '/' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], '4');
    const none = await h2Request(client, { ':path': '/none' });
    assert.equal(none.status, 204);
    assert.equal(none.body, '');
    // node:http2 ends a 205's stream with its head: a content-length of 4 with it was a malformed
    // answer (RFC 9113 §8.1.1) that the client reset PROTOCOL_ERROR, never seeing the 205.
    const reset = await h2Request(client, { ':path': '/reset' });
    assert.equal(reset.status, 205);
    assert.equal(reset.rstCode, 0);
    assert.equal(reset.body, '');
    assert.equal(reset.headers['content-length'], undefined);
    const hints: number[] = [];
    const stream = client.request({ ':path': '/early', expect: '100-continue' });
    stream.on('headers', (h) => hints.push(Number(h[':status'])));
    const status = await new Promise<number>((resolve) =>
      stream.on('response', (h) => resolve(Number(h[':status']))),
    );
    stream.resume();
    assert.equal(status, 200);
    assert.deepEqual(hints, [100, 103]);
  } finally {
    client.close();
    await fx.close();
  }
});

test('a client that resets its stream: the body errors with ECONNRESET and the sink closes unfinished', async () => {
  const fx = await startH2Fixture({ handle: () => {} });
  const client = http2.connect(`http://127.0.0.1:${fx.port}`);
  try {
    const stream = client.request({ ':method': 'POST', ':path': '/slow' });
    stream.write('part');
    stream.on('error', () => {});
    while (fx.exchanges.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const exchange = fx.exchanges[0];
    assert.equal(exchange.bodyComplete, false);
    const requestBody = exchange.body;
    assert.ok(requestBody !== undefined);
    const bodyError = new Promise<string>((resolve) =>
      requestBody.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')),
    );
    requestBody.resume();
    const closed = new Promise<boolean>((resolve) => exchange.answer.onClose(resolve));
    // destroy(), not close(): node:http2's close() sends END_STREAM before its RST_STREAM.
    stream.destroy(new Error('the client gives up'));
    assert.equal(await bodyError, 'ECONNRESET');
    assert.equal(await closed, false);
  } finally {
    client.close();
    await fx.close();
  }
});

test('what the HTTP/1.1 parser refuses is refused here too: a long :path 414, a Host against :authority 400', async () => {
  const fx = await startH2Fixture({ limits: { uriLength: 64 } });
  const client = http2.connect(`http://127.0.0.1:${fx.port}`);
  try {
    const long = await h2Request(client, { ':path': `/${'a'.repeat(100)}` });
    assert.equal(long.status, 414);
    assert.equal(long.headers['x-refused'], 'ERR_URI_TOO_LONG');
    const mismatch = await h2Request(client, { ':path': '/', ':authority': 'a.test', host: 'b.test' });
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.headers['x-refused'], 'ERR_HOST_MISMATCH');
    const same = await h2Request(client, { ':path': '/ok', ':authority': 'a.test', host: 'A.test' });
    assert.equal(same.status, 200);
    assert.deepEqual(
      fx.exchanges.map((e) => e.head.target),
      ['/ok'],
    );
  } finally {
    client.close();
    await fx.close();
  }
});

test("a Host that names :authority's authority with its scheme's default port, or an empty one, is the same authority (RFC 9113 §8.3.1 normalizes by RFC 3986 §6.2.3): served, not a 400", async () => {
  const fx = await startH2Fixture();
  const client = http2.connect(`http://127.0.0.1:${fx.port}`);
  try {
    const same: [http2.OutgoingHttpHeaders, string][] = [
      [{ ':authority': 'a.test', host: 'a.test:80' }, '/default-port'],
      [{ ':authority': 'a.test:80', host: 'A.test' }, '/default-port-in-authority'],
      [{ ':authority': 'a.test', host: 'a.test:' }, '/empty-port'],
      [{ ':scheme': 'https', ':authority': 'a.test:443', host: 'a.test' }, '/https-default-port'],
      [{ ':authority': '[::1]', host: '[::1]:80' }, '/ipv6-default-port'],
      // One IPv6 address in two spellings (RFC 4291 §2.2), as the router reads them: one authority.
      [{ ':authority': '[::1]:8080', host: '[0:0::1]:8080' }, '/ipv6-spelling'],
      [{ ':authority': '[2001:DB8::7]', host: '[2001:db8:0:0:0:0:0:7]:80' }, '/ipv6-long-form'],
    ];
    for (const [fields, path] of same) {
      const answer = await h2Request(client, { ':path': path, ...fields });
      assert.equal(answer.status, 200, `${JSON.stringify(fields)} is one authority`);
    }
    const other: http2.OutgoingHttpHeaders[] = [
      { ':authority': 'a.test', host: 'a.test:8080' },
      { ':scheme': 'https', ':authority': 'a.test', host: 'a.test:80' },
      { ':authority': '[::1]', host: '[::2]:80' },
    ];
    for (const fields of other) {
      const answer = await h2Request(client, { ':path': '/other', ...fields });
      assert.equal(answer.status, 400, `${JSON.stringify(fields)} are two authorities`);
      assert.equal(answer.headers['x-refused'], 'ERR_HOST_MISMATCH');
    }
    assert.deepEqual(
      fx.exchanges.map((e) => e.head.target),
      same.map(([, path]) => path),
    );
  } finally {
    client.close();
    await fx.close();
  }
});

test('a request with neither :authority nor Host is reset by nghttp2 (PROTOCOL_ERROR) before any exchange', async () => {
  const fx = await startH2Fixture();
  const raw = await RawH2Client.connect(fx.port);
  try {
    const fields: [string, string][] = [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
    ];
    raw.send(headers(1, headerBlock(fields)));
    const reset = await raw.waitFor((f) => f.type === FRAME.RST_STREAM && f.streamId === 1);
    assert.equal(reset.payload.readUInt32BE(0), ERROR.PROTOCOL_ERROR);
    assert.deepEqual(fx.refusals, []);
    assert.equal(fx.exchanges.length, 0);
  } finally {
    raw.close();
    await fx.close();
  }
});

test('trailers node:http2 will not send cut the response (reset), never end it as whole without them', async () => {
  const fx = await startH2Fixture({
    handle: (exchange) => {
      exchange.answer.sendHead(200, 'OK', ['content-type', 'application/grpc']);
      exchange.answer.write(Buffer.from('message'));
      setImmediate(() => exchange.answer.end(['bad name', 'x']));
    },
  });
  const client = http2.connect(`http://127.0.0.1:${fx.port}`);
  try {
    const r = await h2Request(client, { ':path': '/t' });
    assert.equal(r.body, 'message');
    assert.equal(r.trailers, undefined);
    assert.equal(r.rstCode, constants.NGHTTP2_INTERNAL_ERROR);
  } finally {
    client.close();
    await fx.close();
  }
});
