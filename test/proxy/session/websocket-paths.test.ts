/**
 * A WebSocket through the gateway end to end, from the outside: the handshake's fields both
 * ways, the upstream's refusals and silences, a tunnel's bytes, a reload under an open tunnel,
 * and what an HTTP/2 client that tries RFC 8441's extended CONNECT gets.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

const HANDSHAKE =
  'GET /chat HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
  'Sec-WebSocket-Protocol: chat.v2, chat.v1\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' +
  'Origin: https://app.example\r\n';
const SWITCHED =
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat.v2\r\n' +
  'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n';

/** An upstream that switches and then echoes every byte back. */
function echoingUpstream() {
  return startRawFault(async (c) => {
    await c.nextRequest();
    await c.write(SWITCHED);
    c.socket.on('data', (d: Buffer) => c.socket.write(d));
    c.socket.on('end', () => c.socket.end());
  });
}

/** Opens a tunnel through the gateway; resolves with the socket and the 101's head once it arrived. */
function openTunnel(port: number, id: string): Promise<{ socket: net.Socket; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let raw = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      raw = Buffer.concat([raw, d]);
      const end = raw.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      if (raw.length > end + 4) socket.unshift(raw.subarray(end + 4));
      resolve({ socket, head: raw.subarray(0, end).toString('latin1') });
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.write(`${HANDSHAKE}X-Request-Id: ${id}\r\n\r\n`);
  });
}

/** Reads `length` bytes from the socket. */
function readBytes(socket: net.Socket, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got < length) return;
      socket.off('data', onData);
      resolve(Buffer.concat(chunks));
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed after ${got} of ${length} bytes`)));
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test("the handshake's fields reach the upstream as sent, and the 101's come back unchanged", async () => {
  const upstream = await echoingUpstream();
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const { socket, head } = await openTunnel(gw.port, 'hs-1');
    socket.destroy();
    const seen = upstream.received[0].headers;
    assert.equal(seen.upgrade, 'websocket');
    assert.equal(seen.connection, 'upgrade');
    assert.equal(seen['sec-websocket-key'], 'dGhlIHNhbXBsZSBub25jZQ==');
    assert.equal(seen['sec-websocket-version'], '13');
    assert.equal(seen['sec-websocket-protocol'], 'chat.v2, chat.v1');
    assert.equal(seen['sec-websocket-extensions'], 'permessage-deflate; client_max_window_bits');
    assert.equal(seen.origin, 'https://app.example');
    assert.equal(seen['keep-alive'], undefined);
    assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(head, /\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i);
    assert.match(head, /\r\nsec-websocket-protocol: chat\.v2\r\n/i);
    assert.match(head, /\r\nsec-websocket-extensions: permessage-deflate; server_no_context_takeover\r\n/i);
    assert.match(head, /\r\nconnection: upgrade\r\nupgrade: websocket$/i);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

for (const status of [400, 403]) {
  // Proxy-Status with received-status marks an upstream's 5xx (upgrades.test.ts), as on any request: a 4xx is the upstream's word alone.
  test(`an upgrade refused ${status} is relayed as the upstream's ${status}, and the client connection closes`, async () => {
    const upstream = await startRawFault(async (c) => {
      await c.nextRequest();
      await c.write(`HTTP/1.1 ${status} No\r\ncontent-length: 2\r\n\r\nno`);
    });
    const gw = await startTestGateway(singleUpstream(upstream.url));
    try {
      const answer = await rawRequest(gw.port, `${HANDSHAKE}X-Request-Id: refused-${status}\r\n\r\n`);
      assert.equal(answer.status, status);
      assert.doesNotMatch(answer.raw, /proxy-status/i);
      assert.match(answer.raw, /\r\nconnection: close\r\n/i);
      assert.match(answer.raw, /\r\n\r\nno$/);
      assert.equal(answer.closed, true);
      const line = await gw.logFor(`refused-${status}`);
      assert.equal(line.status, status);
      assert.equal(line.upgraded, undefined);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
}

test('an upstream that never answers the upgrade is a 504 at timeouts.response, not a hang', async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
  });
  const gw = await startTestGateway(
    singleUpstream(upstream.url, { upstream: '    timeouts: { response: 300ms }\n' }),
  );
  try {
    const answer = await rawRequest(gw.port, `${HANDSHAKE}X-Request-Id: silent\r\n\r\n`, 4000);
    assert.equal(answer.status, 504);
    assert.match(answer.raw, /\r\nproxy-status: edge-1; error=http_response_timeout/i);
    const line = await gw.logFor('silent');
    assert.equal(line.status, 504);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('a target that refuses the connection: the upgrade, never sent, is retried to the next target, which switches', async () => {
  // Not a port the system picked and let go: another test file's listen(0) may be given it.
  const refusing = await startRefusing();
  const refusedPort = refusing.port;
  const upstream = await echoingUpstream();
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${refusedPort}
      - url: ${upstream.url}
`);
  try {
    // Whichever target the balancer tries first, one of the two upgrades meets the refusing one.
    const lines = [];
    for (const id of ['refused-a', 'refused-b']) {
      const { socket, head } = await openTunnel(gw.port, id);
      assert.match(head, /^HTTP\/1\.1 101 /);
      socket.write('ping');
      assert.equal((await readBytes(socket, 4)).toString(), 'ping');
      socket.destroy();
      lines.push(await gw.logFor(id));
    }
    const retried = lines.filter((l) => l.attempts === 2);
    assert.equal(retried.length, 1);
    assert.deepEqual(
      (retried[0].tries as { error?: string; stage?: string; status?: number }[]).map((t) => [
        t.error,
        t.stage,
        t.status,
      ]),
      [
        ['connection_refused', 'not_sent', undefined],
        [undefined, undefined, 101],
      ],
    );
    assert.equal(upstream.received.length, 2);
  } finally {
    await gw.close();
    await upstream.close();
    await refusing.close();
  }
});

test("a tunnel's clock is tunnel_idle alone: response, read, total and the client's keep-alive do not cut it; the idle close logs the bytes each way", async () => {
  const upstream = await echoingUpstream();
  const gw = await startTestGateway(
    singleUpstream(upstream.url, {
      upstream:
        '    timeouts: { response: 200ms, read: 200ms, total: 200ms, total_includes_body: true, tunnel_idle: 1s }\n',
      extra: 'limits: { keep_alive_timeout: 200ms }\n',
    }),
  );
  try {
    const { socket } = await openTunnel(gw.port, 'clocks');
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    // Silent past every other timeout, well short of tunnel_idle.
    await new Promise((resolve) => setTimeout(resolve, 600));
    socket.write('still-here');
    assert.equal((await readBytes(socket, 10)).toString(), 'still-here');
    await closed;
    const line = await gw.logFor('clocks');
    assert.equal(line.tunnel_closed_by, 'idle_timeout');
    assert.equal(line.error, undefined);
    assert.equal(line.bytes_in, `${HANDSHAKE}X-Request-Id: clocks\r\n\r\n`.length + 10);
    assert.equal(line.bytes_out, 10);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('a 1 MiB binary message each way crosses the tunnel unchanged', async () => {
  const upstream = await echoingUpstream();
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const { socket } = await openTunnel(gw.port, 'big');
    // A binary frame, client to server (masked, RFC 6455 §5.2), with every byte value in the payload.
    const payload = randomBytes(1024 * 1024);
    const mask = randomBytes(4);
    const head = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 0]);
    const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
    const frame = Buffer.concat([head, mask, masked]);
    const back = readBytes(socket, frame.length);
    socket.write(frame);
    assert.equal(sha(await back), sha(frame));
    socket.end();
    const line = await gw.logFor('big');
    assert.equal(line.tunnel_closed_by, 'client');
    assert.equal(line.bytes_out, frame.length);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test("a reload that drops the tunnel's target keeps the open tunnel working; new upgrades go to the new target", async () => {
  const first = await echoingUpstream();
  const second = await echoingUpstream();
  const gw = await startTestGateway(singleUpstream(first.url));
  try {
    const { socket } = await openTunnel(gw.port, 'kept');
    await gw.gateway.reload(
      parseConfig(`listen:\n  - address: 127.0.0.1:0\n${singleUpstream(second.url)}`, '<test>', {}),
    );
    socket.write('after-reload');
    assert.equal((await readBytes(socket, 12)).toString(), 'after-reload');
    const fresh = await openTunnel(gw.port, 'fresh');
    fresh.socket.destroy();
    assert.equal(second.received.length, 1);
    socket.end();
    const line = await gw.logFor('kept');
    assert.equal(line.tunnel_closed_by, 'client');
  } finally {
    await gw.close();
    await first.close();
    await second.close();
  }
});

/** One HTTP/2 frame's bytes (RFC 9113 §4.1). */
function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK literal field without indexing, its name a static table index or (0) a literal (RFC 7541 §6.2.2). */
function literal(nameIndex: number, name: string, value: string): Buffer {
  const nameBytes = nameIndex === 0 ? [name.length, ...Buffer.from(name)] : [];
  return Buffer.from([nameIndex, ...nameBytes, value.length, ...Buffer.from(value)]);
}

/**
 * Sends RFC 8441's extended CONNECT on stream 1 of a raw HTTP/2 connection, as a client that
 * ignores the server's SETTINGS would, and says what came back on it: `RST_STREAM <code>`,
 * `GOAWAY <code>`, or `HEADERS` (an answer).
 */
function extendedConnect(port: number): Promise<{ settings: Map<number, number>; outcome: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const settings = new Map<number, number>();
    let buffered = Buffer.alloc(0);
    const finish = (outcome: string) => {
      socket.destroy();
      resolve({ settings, outcome });
    };
    socket.on('data', (d: Buffer) => {
      buffered = Buffer.concat([buffered, d]);
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) return;
        const [type, flags, stream] = [buffered[3], buffered[4], buffered.readUInt32BE(5) & 0x7fffffff];
        const payload = buffered.subarray(9, 9 + length);
        buffered = buffered.subarray(9 + length);
        if (type === 4 && (flags & 1) === 0)
          for (let i = 0; i + 6 <= payload.length; i += 6)
            settings.set(payload.readUInt16BE(i), payload.readUInt32BE(i + 2));
        if (type === 3 && stream === 1) return finish(`RST_STREAM ${payload.readUInt32BE(0)}`);
        if (type === 7) return finish(`GOAWAY ${payload.readUInt32BE(4)}`);
        if (type === 1 && stream === 1) return finish('HEADERS');
      }
    });
    socket.on('error', reject);
    socket.on('close', () => finish('closed'));
    const fields = Buffer.concat([
      literal(2, ':method', 'CONNECT'),
      Buffer.from([0x86]), // :scheme http
      literal(4, ':path', '/chat'),
      literal(1, ':authority', 'a'),
      literal(0, ':protocol', 'websocket'),
      literal(0, 'sec-websocket-version', '13'),
    ]);
    socket.write(
      Buffer.concat([
        Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
        frame(4, 0, 0, Buffer.alloc(0)),
        frame(1, 0x4, 1, fields), // END_HEADERS, the stream left open as a CONNECT's is
      ]),
    );
  });
}

test('HTTP/2: the SETTINGS do not offer extended CONNECT (RFC 8441), and a client that sends one anyway gets its stream refused', async () => {
  const upstream = await echoingUpstream();
  const gw = await startTestGateway(singleUpstream(upstream.url), {}, 'http2: true');
  const session = http2.connect(gw.url);
  try {
    await new Promise<void>((resolve) => session.once('remoteSettings', () => resolve()));
    assert.equal(session.remoteSettings.enableConnectProtocol, false);
    const { settings, outcome } = await extendedConnect(gw.port);
    assert.notEqual(settings.get(0x8), 1, 'SETTINGS_ENABLE_CONNECT_PROTOCOL not sent as 1');
    assert.equal(outcome, 'RST_STREAM 1'); // PROTOCOL_ERROR: `:protocol` is no pseudo-header here
    assert.equal(upstream.received.length, 0);
  } finally {
    session.destroy();
    await gw.close();
    await upstream.close();
  }
});
