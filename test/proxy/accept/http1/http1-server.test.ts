/**
 * Candor's own HTTP/1.1 server (src/proxy/accept/http1/*.ts) on real sockets, with a small
 * handler of its own: keep-alive, one request at a time under pipelining and the read-ahead
 * bound, chunked bodies with trailers, HEAD, 100-continue, HTTP/1.0, refusals with a
 * deadline on the close, and the timeouts.
 */
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import tls from 'node:tls';
import { serializeAnswerHead } from '../../../../src/core/http1/answer-head.ts';
import type { DownstreamExchange } from '../../../../src/core/net/downstream.ts';
import { LINGER_MS } from '../../../../src/core/net/linger.ts';
import { testCertificates } from '../../../../src/kits/fault-kit/tls-certs.ts';
import type { Http1Settings } from '../../../../src/proxy/accept/http1/http1-connection-setup.ts';
import { createHttp1Server, type Http1Server } from '../../../../src/proxy/accept/http1/http1-server.ts';
import { RawClient } from '../downstream-fixture.ts';

const SETTINGS: Http1Settings = {
  headerSize: 4096,
  uriLength: 1024,
  headerTimeout: 300,
  bodyIdleTimeout: 300,
  keepAliveTimeout: 400,
};

interface Served {
  readonly server: Http1Server;
  readonly port: number;
  /** Requests handed over, and the most at once on one connection. */
  readonly stats: {
    handed: number;
    running: number;
    mostAtOnce: number;
    refused: number[];
    refusedHeads: string[];
  };
  close(): Promise<void>;
}

/** A request without a body has no body stream: an empty one stands in, one per exchange. */
const empty = new WeakMap<DownstreamExchange, Readable>();
function bodyOf(exchange: DownstreamExchange): Readable {
  if (exchange.body !== undefined) return exchange.body;
  let body = empty.get(exchange);
  if (body === undefined) {
    body = Readable.from([]);
    empty.set(exchange, body);
  }
  return body;
}

type Handle = (exchange: DownstreamExchange, n: number) => void;

/** Answers with what it was asked: method, target, body and trailers, a turn later. */
const echo: Handle = (exchange, n) => {
  const chunks: Buffer[] = [];
  bodyOf(exchange).on('data', (c: Buffer) => chunks.push(c));
  bodyOf(exchange).on('error', () => exchange.answer.abort());
  bodyOf(exchange).on('end', () =>
    setImmediate(() => {
      const body = Buffer.from(
        JSON.stringify({
          method: exchange.head.method,
          target: exchange.head.target,
          body: Buffer.concat(chunks).toString(),
          trailers: (bodyOf(exchange) as unknown as { trailers?: string[] }).trailers ?? [],
        }),
      );
      exchange.answer.sendHead(200, 'OK', ['content-length', String(body.length), 'x-n', String(n)]);
      exchange.answer.write(body);
      exchange.answer.end();
    }),
  );
};

async function serve(handle: Handle = echo, settings = SETTINGS, maxConnections?: number): Promise<Served> {
  const stats = {
    handed: 0,
    running: 0,
    mostAtOnce: 0,
    refused: [] as number[],
    refusedHeads: [] as string[],
  };
  const server = createHttp1Server(
    () => settings,
    {
      request(exchange) {
        stats.handed++;
        stats.mostAtOnce = Math.max(stats.mostAtOnce, ++stats.running);
        exchange.answer.onClose(() => stats.running--);
        handle(exchange, stats.handed);
      },
      refused(connection, error) {
        stats.refused.push(error.status);
        stats.refusedHeads.push(connection.refusedHead);
        connection.refuse(
          serializeAnswerHead(error.status, 'Refused', ['content-length', '0', 'connection', 'close']),
        );
      },
    },
    maxConnections,
  );
  await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.server.address() as AddressInfo).port,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.destroyAll('deadline');
        server.server.close(() => resolve());
      }),
  };
}

const count = (text: string, what: string) => text.split(what).length - 1;

test('keep-alive: requests one after the other on one connection', async (t) => {
  const s = await serve();
  t.after(() => s.close());
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  c.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
  await c.until((r) => count(r, '"target":"/a"') === 1);
  c.write('GET /b HTTP/1.1\r\nHost: x\r\n\r\n');
  await c.until((r) => count(r, '"target":"/b"') === 1);
  assert.equal(count(c.received, 'HTTP/1.1 200 OK'), 2);
  assert.equal(c.closed, false);
  assert.match(c.received, /\r\ndate: /);
  assert.match(c.received, /\r\nconnection: keep-alive\r\n/);
});

test('a head and a broken chunk in the same read are refused whole, never handed over', async (t) => {
  const s = await serve();
  t.after(() => s.close());
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  c.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n');
  await c.untilClosed();
  assert.match(c.received, /^HTTP\/1\.1 400 /);
  assert.equal(s.stats.handed, 0);
});

test('pipelined requests are answered in order, never two at once', async (t) => {
  const s = await serve();
  t.after(() => s.close());
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  const n = 300;
  let bytes = '';
  for (let i = 0; i < n; i++) bytes += `GET /${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
  c.write(bytes);
  await c.until((r) => count(r, 'HTTP/1.1 200') === n, 10_000);
  const order = [...c.received.matchAll(/"target":"\/(\d+)"/g)].map((m) => Number(m[1]));
  assert.deepEqual(
    order,
    Array.from({ length: n }, (_, i) => i),
  );
  assert.equal(s.stats.mostAtOnce, 1);
});

/**
 * A server whose handler holds /slow until released and answers /sync in the handler itself
 * (as the gateway answers OPTIONS *, a redirect, a 404); anything else is echoed. A client
 * sends /slow, then `chunks` as reads of their own kept behind it, then /slow is answered.
 */
async function behindSlow(t: { after(fn: () => unknown): void }, chunks: readonly string[]) {
  let release: (() => void) | undefined;
  const s = await serve((exchange, n) => {
    const answer = () => {
      exchange.answer.sendHead(200, 'OK', ['content-length', String(exchange.head.target.length)]);
      exchange.answer.write(Buffer.from(exchange.head.target));
      exchange.answer.end();
    };
    if (exchange.head.target === '/slow') release = answer;
    else if (exchange.head.target === '/sync') answer();
    else echo(exchange, n);
  });
  t.after(() => s.close());
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  c.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
  while (release === undefined) await new Promise((r) => setImmediate(r));
  for (const chunk of chunks) {
    c.write(chunk);
    // A pause between them: the kernel could join them into one read otherwise.
    await new Promise((r) => setTimeout(r, 100));
  }
  (release as () => void)();
  return { s, c };
}

test('pipelined reads after a request answered at once are parsed in the order they came', async (t) => {
  // The rest of the read that held /sync was read ahead, but the read after it was parsed
  // first: `st: x` was taken for a request line, and a valid request got a 400.
  const { s, c } = await behindSlow(t, [
    'GET /sync HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHo',
    'st: x\r\n\r\n',
  ]);
  await c.until((r) => r.includes('"target":"/after"') || r.includes(' 400 '));
  assert.deepEqual(s.stats.refused, []);
  assert.equal(count(c.received, 'HTTP/1.1 200 OK'), 3);
  assert.equal(s.stats.mostAtOnce, 1);
});

test('a half head read after a request answered at once still has its header timeout: a 408, not a silent close', async (t) => {
  // It was parsed while the connection counted as idle: the keep-alive timeout closed it unanswered.
  const { s, c } = await behindSlow(t, [
    'GET /sync HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /after HTTP/1.1\r\nHo',
  ]);
  await c.untilClosed();
  assert.deepEqual(s.stats.refused, [408]);
  assert.equal(count(c.received, 'HTTP/1.1 200 OK'), 2);
  assert.match(c.received, /HTTP\/1\.1 408 /);
});

test('a request sent while pipelined ones wait for a slow reader to drain is answered after them, not before', async (t) => {
  // The connection was idle (its answer written, not yet taken) with /a read ahead and waiting
  // for the drain; /b, read then, was parsed at once and answered before /a: the client would
  // take /b's answer for /a's.
  const big = Buffer.alloc(8 * 1024 * 1024, 'x');
  let bigDone = false;
  const s = await serve((exchange, n) => {
    if (exchange.head.target !== '/big') return echo(exchange, n);
    exchange.answer.sendHead(200, 'OK', ['content-length', String(big.length)]);
    exchange.answer.write(big);
    exchange.answer.end();
    bigDone = true;
  });
  t.after(() => s.close());
  const client = net.connect(s.port, '127.0.0.1');
  t.after(() => client.destroy());
  await new Promise((resolve) => client.once('connect', resolve));
  client.pause();
  client.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n');
  while (!bigDone) await new Promise((r) => setTimeout(r, 10));
  client.write('GET /b HTTP/1.1\r\nHost: x\r\n\r\n');
  // Time for the server to read /b (the kernel holds it otherwise, and the order is kept anyway).
  await new Promise((r) => setTimeout(r, 150));
  let received = '';
  client.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  client.resume();
  while (count(received, '"target":') < 2) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(
    [...received.matchAll(/"target":"([^"]*)"/g)].map((m) => m[1]),
    ['/a', '/b'],
  );
  assert.equal(s.stats.mostAtOnce, 1);
});

test('past the read-ahead bound the socket is not read: a client that pipelines and never reads holds little', async (t) => {
  const big = Buffer.alloc(64 * 1024, 'x');
  const s = await serve((exchange) => {
    bodyOf(exchange).resume();
    bodyOf(exchange).on('end', () => {
      exchange.answer.sendHead(200, 'OK', ['content-length', String(big.length)]);
      exchange.answer.write(big);
      exchange.answer.end();
    });
  });
  t.after(() => s.close());
  const attacker = net.connect(s.port, '127.0.0.1');
  t.after(() => attacker.destroy());
  attacker.on('error', () => {});
  attacker.pause();
  const total = 20_000;
  attacker.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(total));
  let last = -1;
  while (s.stats.handed !== last) {
    last = s.stats.handed;
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.ok(s.stats.handed < total / 10, `stopped with the client's socket full (handed ${s.stats.handed})`);
  assert.equal(s.stats.mostAtOnce, 1);
});

test('a chunked request body with trailers, and a chunked response', async (t) => {
  const s = await serve((exchange) => {
    const chunks: Buffer[] = [];
    bodyOf(exchange).on('data', (c: Buffer) => chunks.push(c));
    bodyOf(exchange).on('end', () => {
      exchange.answer.sendHead(200, 'OK', []);
      exchange.answer.write(Buffer.concat(chunks));
      exchange.answer.end(['x-sum', String(Buffer.concat(chunks).length)]);
    });
  });
  t.after(() => s.close());
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  c.write(
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n',
  );
  await c.until((r) => r.endsWith('0\r\nx-sum: 5\r\n\r\n'));
  assert.match(c.received, /transfer-encoding: chunked\r\n/);
  assert.match(c.received, /\r\n\r\n5\r\nabcde\r\n0\r\n/);
});

test('HEAD: the head only, and the connection goes on', async (t) => {
  const s = await serve();
  t.after(() => s.close());
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  c.write('HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\n\r\n');
  await c.until((r) => r.includes('"target":"/g"'));
  const first = c.received.slice(0, c.received.indexOf('HTTP/1.1', 1));
  assert.ok(first.endsWith('\r\n\r\n'), 'no body after the HEAD answer');
});

test('Expect: 100-continue is answered when the handler asks for the body', async (t) => {
  const s = await serve((exchange, n) => {
    exchange.answer.sendContinue();
    echo(exchange, n);
  });
  t.after(() => s.close());
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  c.write('POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n');
  await c.until((r) => r.includes('HTTP/1.1 100 Continue\r\n\r\n'));
  c.write('abc');
  await c.until((r) => r.includes('"body":"abc"'));
});

test('Expect: 100-continue from an HTTP/1.0 client is ignored: no 1xx, the body read when it comes (RFC 9110 §10.1.1)', async (t) => {
  let expectContinue: boolean | undefined;
  const s = await serve((exchange, n) => {
    expectContinue = exchange.head.expectContinue;
    exchange.answer.sendContinue();
    echo(exchange, n);
  });
  t.after(() => s.close());
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  c.write('POST /e HTTP/1.0\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n');
  while (expectContinue === undefined) await new Promise((r) => setImmediate(r));
  c.write('abc');
  await c.untilClosed();
  assert.equal(expectContinue, false);
  assert.match(c.received, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(c.received, /"body":"abc"/);
});

test('HTTP/1.0: the answer says close, and the connection closes after it', async (t) => {
  const s = await serve();
  t.after(() => s.close());
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  c.write('GET /old HTTP/1.0\r\n\r\n');
  await c.untilClosed();
  assert.match(c.received, /\r\nconnection: close\r\n/);
  assert.match(c.received, /"target":"\/old"/);
});

/** How a raw client connection ended: 'reset' (ECONNRESET), 'fin' (a clean end), with what it had received. */
function endingOf(socket: net.Socket): Promise<{ how: 'reset' | 'fin'; received: string }> {
  return new Promise((resolve) => {
    let received = '';
    let how: 'reset' | 'fin' = 'fin';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') how = 'reset';
    });
    socket.on('close', () => resolve({ how, received }));
  });
}

test('HTTP/1.0, a body delimited by the close: a response cut short ends in a reset, never a FIN that would read as its whole end', async (t) => {
  const s = await serve((exchange) => {
    exchange.answer.sendHead(200, 'OK', ['content-type', 'text/plain']);
    exchange.answer.write(Buffer.from('first part'));
    setTimeout(() => exchange.answer.abort(), 50);
  });
  t.after(() => s.close());
  const socket = net.connect(s.port, '127.0.0.1');
  t.after(() => socket.destroy());
  const ended = endingOf(socket);
  socket.write('GET /cut HTTP/1.0\r\nHost: x\r\n\r\n');
  const { how, received } = await ended;
  assert.match(received, /^HTTP\/1\.1 200 OK\r\n[\s\S]*connection: close\r\n\r\nfirst part$/);
  assert.equal(how, 'reset', 'the client can tell the body was cut');
});

test('HTTP/1.0: a client that ends its side while its close-delimited answer streams gets a reset, not a FIN under a partial body', async (t) => {
  let more: (() => void) | undefined;
  const s = await serve((exchange) => {
    exchange.answer.sendHead(200, 'OK', ['content-type', 'text/plain']);
    exchange.answer.write(Buffer.from('first part'));
    more = () => {
      exchange.answer.write(Buffer.from('second part'));
      exchange.answer.end();
    };
  });
  t.after(() => s.close());
  const socket = net.connect({ port: s.port, host: '127.0.0.1', allowHalfOpen: true });
  t.after(() => socket.destroy());
  const ended = endingOf(socket);
  socket.once('data', () => {
    socket.end();
    setTimeout(() => more?.(), 50);
  });
  socket.write('GET /half HTTP/1.0\r\nHost: x\r\n\r\n');
  const { how, received } = await ended;
  assert.doesNotMatch(received, /second part/);
  assert.equal(how, 'reset');
});

test('HTTP/1.0: the drain deadline that cuts a close-delimited answer cuts it with a reset too', async (t) => {
  let started = false;
  const s = await serve((exchange) => {
    exchange.answer.sendHead(200, 'OK', ['content-type', 'text/plain']);
    exchange.answer.write(Buffer.from('first part'));
    started = true;
  });
  t.after(() => s.close());
  const socket = net.connect(s.port, '127.0.0.1');
  t.after(() => socket.destroy());
  const ended = endingOf(socket);
  socket.write('GET /long HTTP/1.0\r\nHost: x\r\n\r\n');
  while (!started) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(s.server.destroyAll('deadline'), 1);
  const { how, received } = await ended;
  assert.match(received, /\r\n\r\nfirst part$/);
  assert.equal(how, 'reset');
});

test('a malformed request is refused, and the connection closed', async (t) => {
  const s = await serve();
  t.after(() => s.close());
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  c.write('GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n');
  await c.untilClosed();
  assert.match(c.received, /^HTTP\/1\.1 400 /);
  assert.deepEqual(s.stats.refused, [400]);
  assert.match(s.stats.refusedHeads[0], /^GET \/ HTTP\/1\.1\r\nHost: x\r\n/);
  assert.equal(s.stats.handed, 0);
});

test('a half head is a 408 at the header timeout; a client that neither reads nor closes is cut LINGER_MS later', async (t) => {
  const s = await serve(echo, SETTINGS, 1);
  t.after(() => s.close());
  const attacker = net.connect({ port: s.port, host: '127.0.0.1', allowHalfOpen: true });
  t.after(() => attacker.destroy());
  attacker.on('error', () => {});
  attacker.pause();
  await new Promise<void>((resolve) => attacker.once('connect', () => resolve()));
  attacker.write('GET / HTTP/1.1\r\nHost: a\r\n'.slice(0, 25));
  const deadline = performance.now() + SETTINGS.headerTimeout + LINGER_MS + 1_000;
  while (s.server.connections.size > 0 && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  assert.equal(s.server.connections.size, 0, 'destroyed within the deadline');
  assert.deepEqual(s.stats.refused, [408]);
});

test('a connection that never sends a byte is closed at the header timeout without an answer', async (t) => {
  const s = await serve();
  t.after(() => s.close());
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  await c.untilClosed();
  assert.equal(c.received, '');
  assert.deepEqual(s.stats.refused, []);
});

test('an idle keep-alive connection is closed at the keep-alive timeout', async (t) => {
  const s = await serve();
  t.after(() => s.close());
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  c.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
  await c.until((r) => r.includes('"target":"/a"'));
  await c.untilClosed();
  assert.equal(count(c.received, 'HTTP/1.1 200'), 1);
});

test('a body that stalls errors the body stream (the handler answers), and the connection closes after', async (t) => {
  const s = await serve((exchange) => {
    bodyOf(exchange).resume();
    bodyOf(exchange).on('error', (err: NodeJS.ErrnoException) => {
      exchange.answer.sendHead(408, 'Request Timeout', ['content-length', '0', 'x-code', err.code ?? '']);
      exchange.answer.end();
    });
  });
  t.after(() => s.close());
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
  await c.untilClosed();
  assert.match(c.received, /^HTTP\/1\.1 408 [\s\S]*x-code: ERR_BODY_IDLE\r\nconnection: close\r\n/);
});

test('an upgrade takes the socket with the bytes the client sent after its head', async (t) => {
  let rest = '';
  const server = createHttp1Server(() => SETTINGS, {
    request(exchange, connection) {
      assert.equal(exchange.head.upgrade, true);
      bodyOf(exchange).resume();
      bodyOf(exchange).on('end', () => {
        const taken = connection.detach();
        rest = taken.rest.toString();
        taken.socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n',
        );
        taken.socket.on('data', (chunk: Buffer) => taken.socket.write(chunk));
        if (rest) taken.socket.write(rest);
      });
    },
    refused: () => assert.fail('nothing to refuse'),
  });
  await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.destroyAll('deadline');
    server.server.close();
  });
  const c = await RawClient.connect((server.server.address() as AddressInfo).port);
  t.after(() => c.destroy());
  c.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nfirst-bytes');
  await c.until((r) => r.includes('first-bytes'));
  c.write('then-more');
  await c.until((r) => r.includes('then-more'));
  assert.equal(rest, 'first-bytes');
  // Past the header and keep-alive timeouts, the tunnel is still the client's.
  await new Promise((r) => setTimeout(r, SETTINGS.keepAliveTimeout + 100));
  assert.equal(c.closed, false);
});

test('a drain closes an idle connection now and a busy one after its response, which says close', async (t) => {
  let answer: (() => void) | undefined;
  const s = await serve((exchange) => {
    bodyOf(exchange).resume();
    answer = () => {
      exchange.answer.sendHead(200, 'OK', ['content-length', '2']);
      exchange.answer.write(Buffer.from('ok'));
      exchange.answer.end();
    };
  });
  t.after(() => s.close());
  const idle = await RawClient.connect(s.port);
  const busy = await RawClient.connect(s.port);
  t.after(() => {
    idle.destroy();
    busy.destroy();
  });
  busy.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  while (answer === undefined) await new Promise((r) => setImmediate(r));
  s.server.closeWhenIdle();
  await idle.untilClosed();
  assert.equal(idle.received, '');
  answer();
  await busy.untilClosed();
  assert.match(busy.received, /^HTTP\/1\.1 200 OK\r\n[\s\S]*connection: close\r\n\r\nok$/);
});

test('a drain that finds a request already in the socket, not yet read: it is answered (saying close), not dropped', async (t) => {
  const s = await serve();
  t.after(() => s.close());
  const fresh = await RawClient.connect(s.port);
  const kept = await RawClient.connect(s.port);
  t.after(() => {
    fresh.destroy();
    kept.destroy();
  });
  kept.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\n');
  await kept.until((r) => r.includes('"target":"/first"'));
  while (s.server.connections.size < 2) await new Promise((r) => setImmediate(r));
  // Both requests reach the server's socket buffers before it runs again: the drain begins in
  // the same turn, with both connections looking idle.
  fresh.write('GET /new HTTP/1.1\r\nHost: x\r\n\r\n');
  kept.write('GET /second HTTP/1.1\r\nHost: x\r\n\r\n');
  s.server.closeWhenIdle();
  await fresh.untilClosed();
  await kept.untilClosed();
  assert.match(fresh.received, /^HTTP\/1\.1 200 OK\r\n[\s\S]*connection: close\r\n[\s\S]*"target":"\/new"/);
  const second = kept.received.slice(kept.received.lastIndexOf('HTTP/1.1 '));
  assert.match(second, /^HTTP\/1\.1 200 OK\r\n[\s\S]*connection: close\r\n[\s\S]*"target":"\/second"/);
});

test('a drain while a pipelined request waits its turn: it is answered (saying close), never dropped unanswered', async (t) => {
  // The first answer is large and the client does not read yet: the connection is idle
  // between the two requests, the second already read, until the client takes the first.
  const big = Buffer.alloc(8 * 1024 * 1024, 'x');
  let ended = false;
  // (A send deadline, as every listener has: the keep-alive clock then waits for the client to
  // take the first answer, not for the client's pace on a loaded machine.)
  const s = await serve(
    (exchange, n) => {
      bodyOf(exchange).resume();
      const body = n === 1 ? big : Buffer.from('second');
      exchange.answer.sendHead(200, 'OK', ['content-length', String(body.length)]);
      exchange.answer.write(body);
      exchange.answer.end();
      ended = true;
    },
    { ...SETTINGS, sendTimeout: 30_000 },
  );
  t.after(() => s.close());
  const c = await RawClient.connect(s.port);
  t.after(() => c.destroy());
  c.socket.pause();
  c.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n');
  while (!ended) await new Promise((r) => setImmediate(r));
  s.server.closeWhenIdle();
  c.socket.resume();
  await c.untilClosed(10_000);
  assert.equal(s.stats.handed, 2, 'the request read before the drain was run');
  assert.match(c.received, /\r\n\r\nsecond$/);
  const second = c.received.slice(c.received.lastIndexOf('HTTP/1.1 '));
  assert.match(second, /^HTTP\/1\.1 200 OK\r\n[\s\S]*connection: close\r\n/);
});

test('a drain while a pipelined request waits behind an answer still leaving: that request is answered (saying close) too', async (t) => {
  // The first answer is larger than loopback's socket buffers (32 MiB to read, 4 to send): with
  // the client not reading, it is still leaving, its head gone saying keep-alive, when the
  // drain begins. The second request was read before the drain: the client sent it in good faith.
  const big = Buffer.alloc(64 * 1024 * 1024, 'x');
  let ended = false;
  const s = await serve(
    (exchange, n) => {
      bodyOf(exchange).resume();
      const body = n === 1 ? big : Buffer.from('second');
      exchange.answer.sendHead(200, 'OK', ['content-length', String(body.length)]);
      exchange.answer.write(body);
      exchange.answer.end();
      ended = true;
    },
    { ...SETTINGS, sendTimeout: 30_000 },
  );
  t.after(() => s.close());
  const socket = net.connect(s.port, '127.0.0.1');
  t.after(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.pause();
  socket.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n');
  while (!ended) await new Promise((r) => setImmediate(r));
  s.server.closeWhenIdle();
  // Only the tail is kept: 64 MiB of body as a string would cost more than the test.
  let tail = '';
  let total = 0;
  socket.on('data', (chunk: Buffer) => {
    total += chunk.length;
    tail = (tail + chunk.toString('latin1')).slice(-4096);
  });
  socket.resume();
  await new Promise((resolve) => socket.once('close', resolve));
  assert.equal(s.stats.handed, 2, 'the request read before the drain was run');
  assert.ok(total > big.length, `${total} bytes read`);
  const second = tail.slice(tail.lastIndexOf('HTTP/1.1 '));
  assert.match(second, /^HTTP\/1\.1 200 OK\r\n[\s\S]*connection: close\r\n\r\nsecond$/);
});

test('over TLS: the same connection after the handshake, the head saying so', async (t) => {
  const certs = testCertificates();
  let encrypted: boolean | undefined;
  const server = createHttp1Server(
    () => SETTINGS,
    {
      request(exchange) {
        encrypted = exchange.head.encrypted;
        echo(exchange, 1);
      },
      refused: () => assert.fail('nothing to refuse'),
    },
    undefined,
    { cert: certs.localhost.cert, key: certs.localhost.key },
  );
  await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.destroyAll('deadline');
    server.server.close();
  });
  const port = (server.server.address() as AddressInfo).port;
  const socket = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: certs.ca });
  t.after(() => socket.destroy());
  let received = '';
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      if (received.includes('"target":"/secure"')) resolve();
    });
    socket.on('error', reject);
    socket.write('GET /secure HTTP/1.1\r\nHost: localhost\r\n\r\n');
  });
  assert.match(received, /^HTTP\/1\.1 200 OK\r\n/);
  assert.equal(encrypted, true);
});

test('a drain that finds a connection still in its TLS handshake: its request after the handshake says close, and it closes', async (t) => {
  const certs = testCertificates();
  const server = createHttp1Server(
    () => SETTINGS,
    { request: (exchange) => echo(exchange, 1), refused: () => assert.fail('nothing to refuse') },
    undefined,
    { cert: certs.localhost.cert, key: certs.localhost.key },
  );
  await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.destroyAll('deadline');
    server.server.close();
  });
  const port = (server.server.address() as AddressInfo).port;
  const accepted = new Promise<void>((resolve) => server.server.once('connection', () => resolve()));
  const tcp = net.connect(port, '127.0.0.1');
  t.after(() => tcp.destroy());
  await accepted;
  // The drain begins before the client's ClientHello.
  server.closeWhenIdle();
  const socket = tls.connect({ socket: tcp, servername: 'localhost', ca: certs.ca });
  let received = '';
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString();
  });
  socket.on('error', () => {});
  socket.write('GET /late HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await closed;
  assert.match(received, /^HTTP\/1\.1 200 OK\r\n[\s\S]*connection: close\r\n/);
  assert.match(received, /"target":"\/late"/);
});

test('keep-alive time begins when the client has taken the answer, not when it was queued: a slow reader keeps its connection for the next request', async (t) => {
  // Far more than the kernel's socket buffers hold: most of it waits in the gateway's.
  const big = Buffer.alloc(64 * 1024 * 1024, 'x');
  // The keep-alive time starts once the last byte is in the kernel, with megabytes still in its
  // buffers for the client to read and the next request to follow: 600 ms was short of that on a
  // loaded machine. The slow reads last twice the keep-alive time: one counted from the queueing
  // would end during them.
  const settings = { ...SETTINGS, keepAliveTimeout: 1500, sendTimeout: 20_000 };
  const s = await serve((exchange) => {
    bodyOf(exchange).resume();
    const body = exchange.head.target === '/big' ? big : Buffer.from('next');
    exchange.answer.sendHead(200, 'OK', ['content-length', String(body.length)]);
    // In reads' worth, as the gateway relays an upstream's body.
    for (let at = 0; at < body.length; at += 64 * 1024)
      exchange.answer.write(body.subarray(at, at + 64 * 1024));
    exchange.answer.end();
  }, settings);
  t.after(() => s.close());
  const socket = net.connect(s.port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.on('error', () => {});
  let received = 0;
  let whole = Number.POSITIVE_INFINITY;
  let tail = '';
  let slow = true;
  const answered = new Promise<boolean>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      // A slow link: one read's worth at a time.
      if (slow) socket.pause();
      if (received === 0) whole = chunk.indexOf('\r\n\r\n') + 4 + big.length;
      received += chunk.length;
      tail = (tail + chunk.toString('latin1', Math.max(0, chunk.length - 300))).slice(-300);
      if (tail.endsWith('\r\n\r\nnext')) resolve(true);
    });
    socket.once('close', () => resolve(false));
  });
  socket.pause();
  socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
  // One read every 10 ms for two keep-alive timeouts, then at full speed.
  const slowUntil = performance.now() + 2 * settings.keepAliveTimeout;
  while (performance.now() < slowUntil && !socket.destroyed) {
    socket.resume();
    await new Promise((r) => setTimeout(r, 10));
  }
  slow = false;
  socket.resume();
  while (received < whole && !socket.destroyed) await new Promise((r) => setImmediate(r));
  // The whole answer taken: the next request comes at once, well within the keep-alive time.
  socket.write('GET /next HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(await answered, true, 'the next request on the kept-alive connection was answered');
});

test('a client that never takes its answer is closed at the send timeout, kept alive or not', async (t) => {
  const big = Buffer.alloc(64 * 1024 * 1024, 'x');
  const settings = { ...SETTINGS, keepAliveTimeout: 200, sendTimeout: 400 };
  const s = await serve((exchange) => {
    bodyOf(exchange).resume();
    exchange.answer.sendHead(200, 'OK', ['content-length', String(big.length)]);
    exchange.answer.write(big);
    exchange.answer.end();
  }, settings);
  t.after(() => s.close());
  const socket = net.connect(s.port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.on('error', () => {});
  socket.pause();
  socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
  // The send timeout, then the lingering close's LINGER_MS: the socket is destroyed.
  while (s.server.connections.size === 0) await new Promise((r) => setTimeout(r, 10));
  const until = performance.now() + settings.sendTimeout + LINGER_MS + 5_000;
  while (s.server.connections.size > 0 && performance.now() < until)
    await new Promise((r) => setTimeout(r, 50));
  assert.equal(s.server.connections.size, 0, 'the connection was closed');
});
