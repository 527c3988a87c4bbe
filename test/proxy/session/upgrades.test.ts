/**
 * Upgrades go through the one request session: the upstream's answer passes the strict parser
 * and the one head builder, and only a 101 to a request that asked for it opens a tunnel.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

const UPGRADE =
  'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

/** Opens a connection, sends `first`, waits for a full answer, then sends `second` on the same connection. */
function twoOnOneConnection(
  port: number,
  first: string,
  second: string,
): Promise<{ raw: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let sent = false;
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ raw: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const timer = setTimeout(done, 1500);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (!sent && Buffer.concat(chunks).includes('not upgraded')) {
        sent = true;
        socket.write(second);
      }
    });
    socket.on('end', () => {
      closed = true;
      done();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? done() : reject(err)));
    socket.write(first);
  });
}

test('an upgrade answered 200 is an ordinary response, the connection closes, and nothing more reaches the upstream raw', async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    // An app that ignores Upgrade: a plain answer, and the connection kept open.
    await c.write('HTTP/1.1 200 OK\r\ncontent-length: 12\r\nset-cookie: a=1\r\n\r\nnot upgraded');
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const { raw, closed } = await twoOnOneConnection(
      gw.port,
      `${UPGRADE}X-Request-Id: up-200\r\n\r\n`,
      'GET /smuggled HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n',
    );
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(raw, /\r\nvia: 1\.1 edge-1\r\n/i);
    assert.match(raw, /\r\nconnection: close\r\n/i);
    assert.equal(raw.match(/HTTP\/1\.1 /g)?.length, 1, 'one answer only');
    assert.equal(closed, true, 'the gateway closed the connection after the answer');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      upstream.received.map((r) => r.path),
      ['/ws'],
      'the second request never reached the upstream',
    );
    const line = await gw.logFor('up-200');
    assert.equal(line.status, 200);
    assert.equal(line.upgraded, undefined);
    assert.equal(gw.logs.filter((l) => l.msg === 'request').length, 1);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('an upgrade answered 503 by the upstream carries Proxy-Status with received-status', async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\nretry-after: 7\r\n\r\nbusy');
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const answer = await rawRequest(gw.port, `${UPGRADE}\r\n`);
    assert.equal(answer.status, 503);
    assert.match(answer.raw, /\r\nproxy-status: edge-1; received-status=503; next-hop="app"\r\n/i);
    assert.match(answer.raw, /\r\nretry-after: 7\r\n/i);
    assert.match(answer.raw, /\r\n\r\nbusy$/);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('a 101 whose head is not valid HTTP (bare-LF field injection) is a 502 http_protocol_error, never relayed', async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-A: a\nSet-Cookie: injected=1\r\n\r\n',
    );
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const answer = await rawRequest(gw.port, `${UPGRADE}\r\n`);
    assert.equal(answer.status, 502);
    assert.match(answer.raw, /error=http_protocol_error/);
    assert.doesNotMatch(answer.raw, /injected/);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('a 101 reaches the client through the head builder: hop-by-hop fields out, Via and the request id in', async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade, X-Hop\r\nX-Hop: secret\r\n' +
        'Keep-Alive: timeout=5\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nfirst-frame',
    );
    c.socket.on('data', (d: Buffer) => c.socket.write(`echo:${d}`));
    c.socket.on('end', () => c.socket.end());
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(gw.port, '127.0.0.1');
      let raw = '';
      socket.on('data', (d: Buffer) => {
        raw += d.toString('latin1');
        if (raw.includes('first-frame') && !raw.includes('echo:')) socket.write('hello');
        if (raw.includes('echo:hello')) {
          socket.destroy();
          resolve(raw);
        }
      });
      socket.write(`${UPGRADE}X-Request-Id: ws-2\r\n\r\n`);
    });
    const head = answer.slice(0, answer.indexOf('\r\n\r\n'));
    assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(head, /\r\nconnection: upgrade\r\nupgrade: websocket$/i);
    assert.match(head, /\r\nvia: 1\.1 edge-1\r\n/);
    assert.match(head, /\r\nx-request-id: [0-9a-f-]{36}\r\n/);
    assert.doesNotMatch(head, /x-hop|keep-alive/i);
    assert.match(answer, /\r\n\r\nfirst-frameecho:hello$/);
    const line = await gw.logFor('ws-2');
    assert.equal(line.status, 101);
    assert.equal(line.upgraded, true);
    assert.equal(line.client_aborted, false);
    // The request's head, then what the client sent through the tunnel (the tunnel's alone before noticed, item 3).
    assert.equal(line.bytes_in, `${UPGRADE}X-Request-Id: ws-2\r\n\r\n`.length + 5);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('an upgrade with a body is not tunnelled: it is forwarded as the plain request it also is', async () => {
  const upstream = await startRawFault(async (c) => {
    const req = await c.nextRequest({ body: true });
    await c.write(`HTTP/1.1 200 OK\r\ncontent-length: ${req.body.length}\r\n\r\n${req.body}`);
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const answer = await rawRequest(gw.port, `${UPGRADE}Content-Length: 5\r\n\r\nhello`, 300);
    assert.equal(answer.status, 200);
    assert.match(answer.raw, /\r\n\r\nhello$/);
    const seen = await upstream.waitForRequest(1);
    assert.equal(seen.headers.upgrade, undefined);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

for (const [label, answer, details] of [
  [
    'a protocol the client did not offer',
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n',
    /101 Switching Protocols to \\"h2c\\", which the request did not offer/,
  ],
  [
    'no Upgrade field',
    'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\r\n',
    /101 Switching Protocols without an Upgrade field/,
  ],
  [
    'websocket without Connection: upgrade',
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n',
    /101 Switching Protocols without the upgrade option in Connection/,
  ],
  [
    'websocket with Connection: keep-alive only',
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n\r\n',
    /101 Switching Protocols without the upgrade option in Connection/,
  ],
] as const) {
  test(`a 101 to ${label} opens no tunnel: 502 http_protocol_error, and nothing after reaches the upstream (RFC 9110 §7.8)`, async () => {
    const upstream = await startRawFault(async (c) => {
      await c.nextRequest();
      await c.write(answer);
    });
    const gw = await startTestGateway(singleUpstream(upstream.url));
    try {
      const { raw, closed } = await rawRequest(
        gw.port,
        `${UPGRADE}X-Request-Id: up-other\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n`,
      );
      assert.match(raw, /^HTTP\/1\.1 502 /);
      assert.match(
        raw,
        /\r\nproxy-status: edge-1; error=http_protocol_error; details="(?:[^"\\\r]|\\.)*"; next-hop="app"\r\n/,
      );
      assert.match(raw, details);
      assert.equal(raw.match(/HTTP\/1\.1 /g)?.length, 1, 'one answer only');
      assert.equal(closed, true, 'the client connection closes after the answer');
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(
        upstream.received.map((r) => r.path),
        ['/ws'],
        'the bytes after the upgrade request never reached the upstream',
      );
      const line = await gw.logFor('up-other');
      assert.equal(line.status, 502);
      assert.equal(line.error, 'http_protocol_error');
      assert.equal(line.upgraded, undefined);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
}

test('an offer made in two Upgrade fields is one list: the upstream gets both, and a 101 to the second opens the tunnel', async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n');
    c.socket.on('end', () => c.socket.end());
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const { raw } = await rawRequest(
      gw.port,
      'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: foo/2\r\nUpgrade: websocket\r\n' +
        'X-Request-Id: two-offers\r\n\r\n',
      300,
    );
    assert.match(raw, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(raw, /\r\nupgrade: websocket\r\n/i);
    const [seen] = upstream.received;
    // Both offers reach the upstream, as the one field this hop owns.
    assert.deepEqual(
      seen.rawHeaders.filter(([name]) => name.toLowerCase() === 'upgrade').map(([, value]) => value),
      ['foo/2, websocket'],
    );
    const line = await gw.logFor('two-offers');
    assert.equal(line.status, 101);
    assert.equal(line.upgraded, true);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test("a tunnel leaves its connection's place in the pool: pool.max_connections and max_pending do not count it", async () => {
  const upstream = await startRawFault(async (c) => {
    const request = await c.nextRequest();
    if (request.path === '/ws') {
      // The tunnel's upstream ends its side when the gateway ends its own (as a WebSocket server
      // does), so the gateway's close does not wait out its bound for a half-open tunnel.
      c.socket.on('end', () => c.socket.end());
      return c.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    }
    await c.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  });
  const gw = await startTestGateway(
    singleUpstream(upstream.url, { upstream: '    pool: { max_connections: 1, max_pending: 0 }\n' }),
  );
  const tunnel = net.connect(gw.port, '127.0.0.1');
  try {
    await new Promise((resolve) => {
      tunnel.once('data', resolve);
      tunnel.write(`${UPGRADE}\r\n`);
    });
    // The pool's one connection is free for it: the tunnel's went with the tunnel.
    const answer = await rawRequest(
      gw.port,
      'GET /plain HTTP/1.1\r\nHost: a\r\nX-Request-Id: beside\r\n\r\n',
      500,
    );
    assert.equal(answer.status, 200);
    assert.deepEqual(
      upstream.received.map((r) => r.path),
      ['/ws', '/plain'],
    );
  } finally {
    tunnel.destroy();
    await gw.close();
    await upstream.close();
  }
});
