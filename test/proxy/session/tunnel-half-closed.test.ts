/**
 * A tunnel one side has half-closed (its FIN) while the other never ends its own: the silence it
 * may keep is bounded by timeouts.tunnel_half_closed, not tunnel_idle (an hour), and bytes the
 * other side still sends keep it open. The log line names the side whose FIN came first.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const UPGRADE =
  'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
const SWITCHED = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';
/** A tunnel_idle no test outlives, and a tunnel_half_closed far below the tests' waits (5 s). */
const TIMEOUTS = '    timeouts: { tunnel_idle: 1h, tunnel_half_closed: 300ms }\n';

/** What a client of the tunnel saw: the bytes after the 101, its peer's FIN, its socket's close. */
interface TunnelClient {
  readonly socket: net.Socket;
  afterHead: () => string;
  readonly seen: { end: boolean; closed: boolean };
}

/** A client that upgrades (half-open allowed: it decides when it ends) and ends its side after the 101 if `finAfterSwitch`. */
function tunnelClient(port: number, id: string, finAfterSwitch: boolean): TunnelClient {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  let raw = '';
  const seen = { end: false, closed: false };
  socket.on('data', (d: Buffer) => {
    const first = raw === '';
    raw += d.toString('latin1');
    if (first && finAfterSwitch) socket.end();
  });
  socket.on('end', () => {
    seen.end = true;
  });
  socket.on('close', () => {
    seen.closed = true;
  });
  socket.on('error', () => {});
  socket.write(`${UPGRADE}X-Request-Id: ${id}\r\n\r\n`);
  return { socket, afterHead: () => raw.slice(raw.indexOf('\r\n\r\n') + 4), seen };
}

/**
 * Whether a socket the gateway had sent its FIN on is gone (`closed`): that the gateway let go of
 * it shows only as a reset to a byte sent after (a write that fails once the reset came back).
 */
function lateBytesReset(socket: net.Socket | undefined, closed: boolean): boolean {
  if (!closed && socket?.writable) socket.write('late');
  return closed;
}

test("a client's FIN the upstream never answers: the tunnel closes both sides at tunnel_half_closed, not tunnel_idle", async () => {
  const upstreamSaw = { fin: false, closed: false };
  let upstreamSocket: net.Socket | undefined;
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    upstreamSocket = c.socket;
    c.socket.on('end', () => {
      upstreamSaw.fin = true;
    });
    c.socket.on('close', () => {
      upstreamSaw.closed = true;
    });
    // It reads the client's FIN and never ends its own half (ignored, or wedged).
    await c.write(SWITCHED);
  });
  const gw = await startTestGateway(singleUpstream(upstream.url, { upstream: TIMEOUTS }));
  try {
    const client = tunnelClient(gw.port, 'half-client', true);
    await waitUntil("the client's socket closed", () => client.seen.closed);
    assert.equal(upstreamSaw.fin, true, "the client's FIN was passed on to the upstream");
    const line = await gw.logFor('half-client');
    assert.equal(line.status, 101);
    assert.equal(line.tunnel_closed_by, 'client', 'the side whose FIN came first');
    await waitUntil("the upstream's socket reset", () => lateBytesReset(upstreamSocket, upstreamSaw.closed));
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test("an upstream still sending after the client's FIN is not cut while it sends, and closed once it stops", async () => {
  const chunks = 10;
  let sent = 0;
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    // Its last words, one every 100 ms for a second after the client's FIN: each well inside 300 ms.
    c.socket.on('end', () => {
      const timer = setInterval(() => {
        if (c.socket.destroyed) return clearInterval(timer);
        c.socket.write('x');
        if (++sent === chunks) clearInterval(timer);
      }, 100);
    });
    await c.write(SWITCHED);
  });
  const gw = await startTestGateway(singleUpstream(upstream.url, { upstream: TIMEOUTS }));
  try {
    const client = tunnelClient(gw.port, 'half-streaming', true);
    await waitUntil('the upstream sent its last chunk', () => sent === chunks);
    assert.equal(
      client.seen.closed,
      false,
      'not cut while the upstream sent (three times past tunnel_half_closed)',
    );
    await waitUntil("the client's socket closed", () => client.seen.closed);
    assert.equal(client.afterHead(), 'x'.repeat(chunks), 'every chunk reached the client');
    const line = await gw.logFor('half-streaming');
    assert.equal(line.bytes_out, chunks);
    assert.equal(line.tunnel_closed_by, 'client');
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test("an upstream's FIN the client never answers: the tunnel closes at route_defaults' tunnel_half_closed", async () => {
  let upstreamClosed = false;
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    c.socket.on('close', () => {
      upstreamClosed = true;
    });
    await c.end(`${SWITCHED}bye`);
  });
  const gw = await startTestGateway(
    singleUpstream(upstream.url, {
      upstream: '    timeouts: { tunnel_idle: 1h }\n',
      extra: 'route_defaults:\n  timeouts: { tunnel_half_closed: 300ms }\n',
    }),
  );
  try {
    // The client reads the upstream's FIN and never ends its own half.
    const client = tunnelClient(gw.port, 'half-upstream', false);
    const line = await gw.logFor('half-upstream');
    assert.equal(line.status, 101);
    assert.equal(line.tunnel_closed_by, 'upstream');
    assert.equal(client.seen.end, true, "the upstream's FIN was passed on to the client");
    assert.equal(client.afterHead(), 'bye');
    await waitUntil("the upstream's socket closed", () => upstreamClosed);
    await waitUntil("the client's socket reset", () => lateBytesReset(client.socket, client.seen.closed));
  } finally {
    await gw.close();
    await upstream.close();
  }
});
