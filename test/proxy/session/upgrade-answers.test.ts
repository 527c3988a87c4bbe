/**
 * The answers around a switch that RFC 9110 §7.8 and §15.5.22 pin: a 426 tells the client what
 * to upgrade to, and a 101 switches only an HTTP/1.1 exchange, to a protocol (and version, when
 * both sides name one) the request offered.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

/** The head of a raw answer, its status line and field lines. */
function headOf(raw: string): string {
  const end = raw.indexOf('\r\n\r\n');
  return end === -1 ? raw : raw.slice(0, end + 2);
}

const UPGRADE =
  'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

test('a 426 from the upstream keeps its Upgrade field, announced in Connection: the client learns what to upgrade to (RFC 9110 §15.5.22)', async () => {
  const upstream = await startRawFault(async (c) => {
    for (;;) {
      await c.nextRequest();
      await c.write(
        'HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Content-Length: 8\r\n\r\nupgrade!',
      );
    }
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    // A plain request, kept alive; then one that closes the connection.
    for (const [id, close] of [
      ['426-kept', false],
      ['426-closed', true],
    ] as const) {
      const { raw } = await rawRequest(
        gw.port,
        `GET /chat HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${id}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`,
        300,
      );
      const head = headOf(raw);
      assert.match(head, /^HTTP\/1\.1 426 Upgrade Required\r\n/);
      assert.match(head, /\r\nupgrade: websocket\r\n/i);
      assert.equal(head.match(/\r\nupgrade:/gi)?.length, 1, 'one Upgrade field');
      assert.equal(head.match(/\r\nconnection:/gi)?.length, 1, 'one Connection field');
      assert.match(
        head,
        close ? /\r\nconnection: upgrade, close\r\n/ : /\r\nconnection: upgrade, keep-alive\r\n/,
      );
      assert.match(raw, /\r\n\r\nupgrade!$/);
      assert.equal((await gw.logFor(id)).status, 426);
    }
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('a 426 whose Upgrade comes in two lines says them as one list; an HTTP/2 client gets the 426 without it (RFC 9113 §8.2.2)', async () => {
  const upstream = await startRawFault(async (c) => {
    for (;;) {
      await c.nextRequest();
      await c.write(
        'HTTP/1.1 426 Upgrade Required\r\nUpgrade: foo/2\r\nConnection: upgrade\r\nUpgrade: websocket\r\n' +
          'Content-Length: 0\r\n\r\n',
      );
    }
  });
  const gw = await startTestGateway(singleUpstream(upstream.url), {}, 'http2: true');
  try {
    const { raw } = await rawRequest(gw.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const head = headOf(raw);
    assert.match(head, /^HTTP\/1\.1 426 Upgrade Required\r\n/);
    assert.match(head, /\r\nupgrade: foo\/2, websocket\r\n/);
    assert.match(head, /\r\nconnection: upgrade, close\r\n/);
    const session = http2.connect(gw.url);
    try {
      const answer = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        session.on('error', reject);
        const stream = session.request({ ':path': '/' });
        stream.on('response', (fields) => {
          stream.resume();
          stream.on('end', () => resolve(fields));
        });
        stream.on('error', reject);
      });
      assert.equal(answer[':status'], 426);
      assert.equal(answer.upgrade, undefined);
      assert.equal(answer.connection, undefined);
    } finally {
      session.close();
    }
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('an Upgrade field on an answer other than a 426 or a 101 stays with its hop', async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write('HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nContent-Length: 2\r\n\r\nok');
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const { raw } = await rawRequest(gw.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 300);
    const head = headOf(raw);
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(head, /upgrade/i);
    assert.match(head, /\r\nconnection: close\r\n/);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

for (const [label, offer, answer, details] of [
  [
    'an HTTP/1.0 101 (Upgrade is not HTTP/1.0, whose recipients ignore it)',
    'websocket',
    'HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n',
    /101 Switching Protocols in an HTTP\/1\.0 response/,
  ],
  [
    'a version of the protocol other than the one offered',
    'foo/1',
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo/2\r\nConnection: upgrade\r\n\r\n',
    /101 Switching Protocols to \\"foo\/2\\", which the request did not offer/,
  ],
] as const) {
  test(`${label} opens no tunnel: 502 http_protocol_error, the upstream connection closed (RFC 9110 §7.8)`, async () => {
    const upstream = await startRawFault(async (c) => {
      await c.nextRequest();
      await c.write(answer);
    });
    const gw = await startTestGateway(singleUpstream(upstream.url));
    try {
      const { raw, closed } = await rawRequest(
        gw.port,
        `GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: ${offer}\r\nX-Request-Id: up-refused\r\n\r\n` +
          'GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n',
      );
      assert.match(raw, /^HTTP\/1\.1 502 /);
      assert.match(
        raw,
        /\r\nproxy-status: edge-1; error=http_protocol_error; details="(?:[^"\\\r]|\\.)*"; next-hop="app"\r\n/,
      );
      assert.match(raw, details);
      assert.equal(raw.match(/HTTP\/1\.1 /g)?.length, 1, 'one answer only');
      assert.equal(closed, true);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(
        upstream.received.map((r) => r.path),
        ['/ws'],
      );
      const line = await gw.logFor('up-refused');
      assert.equal(line.status, 502);
      assert.equal(line.error, 'http_protocol_error');
      assert.equal(line.upgraded, undefined);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
}

for (const [label, offer, switched] of [
  ['a protocol offered without a version, switched to with one', 'foo', 'foo/2'],
  ['the offered version, its name in another case', 'foo/2, websocket', 'FOO/2'],
  ['a protocol offered with a version, switched to without one', 'foo/2', 'foo'],
] as const) {
  test(`a 101 to ${label} opens the tunnel`, async () => {
    const upstream = await startRawFault(async (c) => {
      await c.nextRequest();
      await c.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${switched}\r\nConnection: upgrade\r\n\r\n`,
      );
      c.socket.on('end', () => c.socket.end());
    });
    const gw = await startTestGateway(singleUpstream(upstream.url));
    try {
      const { raw } = await rawRequest(
        gw.port,
        `GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: ${offer}\r\nX-Request-Id: up-taken\r\n\r\n`,
        300,
      );
      assert.match(raw, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
      assert.match(headOf(raw), new RegExp(`\\r\\nupgrade: ${switched}\\r\\n`));
      const line = await gw.logFor('up-taken');
      assert.equal(line.status, 101);
      assert.equal(line.upgraded, true);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
}

test('a 101 whose Upgrade comes in two lines says them downstream as one list, not its first line alone', async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo/2\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n',
    );
    c.socket.on('end', () => c.socket.end());
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const { raw } = await rawRequest(
      gw.port,
      'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: foo/2, websocket\r\n\r\n',
      300,
    );
    const head = headOf(raw);
    assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(head, /\r\nupgrade: foo\/2, websocket\r\n$/);
    assert.equal(head.match(/\r\nupgrade:/gi)?.length, 1, 'one Upgrade field');
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('an HTTP/1.1 101 to the offered websocket still opens the tunnel', async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n');
    c.socket.on('end', () => c.socket.end());
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const { raw } = await rawRequest(gw.port, `${UPGRADE}\r\n`, 300);
    assert.match(raw, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

for (const [label, upgrade] of [
  ['an empty Upgrade field', 'Upgrade: \r\n'],
  ['an Upgrade field of empty list members', 'Upgrade: , ,\r\n'],
] as const) {
  test(`${label} offers no protocol: the request goes on as a plain one, with no Upgrade and no upgrade option (RFC 9110 §7.8)`, async () => {
    const upstream = await startRawFault(async (c) => {
      await c.nextRequest();
      await c.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nplain');
      c.socket.end();
    });
    const gw = await startTestGateway(singleUpstream(upstream.url));
    try {
      const { raw } = await rawRequest(
        gw.port,
        `GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n${upgrade}X-Request-Id: up-empty\r\n\r\n`,
        300,
      );
      assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(raw, /\r\n\r\nplain$/);
      const seen = await upstream.waitForRequest(1);
      assert.equal(seen.headers.upgrade, undefined, 'no Upgrade reached the upstream');
      assert.doesNotMatch(String(seen.headers.connection ?? ''), /upgrade/i);
      const line = await gw.logFor('up-empty');
      assert.equal(line.status, 200);
      assert.equal(line.upgraded, undefined);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
}

test('an offer with empty members (an empty Upgrade line beside another, `, websocket ,`) reaches the upstream without them, and so does the 101 the client (RFC 9110 §5.6.1)', async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: ,\r\nUpgrade: websocket ,\r\nConnection: upgrade\r\n\r\n',
    );
    c.socket.on('end', () => c.socket.end());
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    for (const [n, upgrade] of [
      [1, 'Upgrade: \r\nUpgrade: WebSocket\r\n'],
      [2, 'Upgrade: , WebSocket ,\r\n'],
    ] as const) {
      const { raw } = await rawRequest(
        gw.port,
        `GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n${upgrade}\r\n`,
        300,
      );
      assert.match(raw, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
      assert.match(headOf(raw), /\r\nupgrade: websocket\r\n$/);
      const seen = await upstream.waitForRequest(n);
      assert.deepEqual(
        seen.rawHeaders.filter(([name]) => name.toLowerCase() === 'upgrade').map(([, value]) => value),
        ['WebSocket'],
      );
    }
  } finally {
    await gw.close();
    await upstream.close();
  }
});
