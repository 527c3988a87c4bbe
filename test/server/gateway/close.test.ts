/**
 * The library's way out (README "Use it as a library"): `close()`, the SIGTERM handler the README
 * recommends, keeps the drain's deadline. A tunnel that never ends (an upstream that switched and
 * then never closes, or a client that sent its FIN to one) is cut at `drain.timeout`, not left to
 * hold the program until `tunnel_idle` (an hour by default).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startBlackhole, startHeadThenStall } from '../../../src/kits/fault-kit/slow-faults.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';

/** Far above `drain.timeout` plus its grace, far below `tunnel_idle`: close() must resolve before it. */
const GENEROUS_MS = 20_000;

const UPGRADE =
  'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

/** An upstream that switches protocols, then neither sends nor closes (it only reads). */
async function startSilentTunnelUpstream() {
  const sockets: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    socket.once('data', () =>
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
    );
    // Reads what comes (the client's FIN included) and never ends its own half.
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Opens an upgrade through the gateway; resolves once the 101 arrived. */
async function openTunnel(port: number): Promise<{ socket: net.Socket }> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    let raw = '';
    socket.on('data', (chunk: Buffer) => {
      raw += chunk.toString('latin1');
      if (!raw.includes('\r\n\r\n')) return;
      if (raw.startsWith('HTTP/1.1 101 ')) resolve();
      else reject(new Error(`expected a 101, got ${raw}`));
    });
    socket.write(UPGRADE);
  });
  return { socket };
}

/**
 * Resolves when `socket` has closed; until then it writes a byte now and then, which a peer that
 * destroyed its socket answers with a reset (a peer that only half-closed would take it).
 */
function gone(socket: net.Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const poke = setInterval(() => {
      if (socket.writable) socket.write('x');
    }, 50);
    socket.once('close', () => {
      clearInterval(poke);
      resolve();
    });
  });
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

for (const half of ['neither side ended', 'the client sent its FIN'] as const) {
  test(`close() cuts a tunnel at drain.timeout when ${half} and the upstream never closes, and resolves`, async () => {
    const upstream = await startSilentTunnelUpstream();
    const gateway = await startTestGateway(
      `routes:\n  - upstream: ws\nupstreams:\n  ws:\n    targets:\n      - url: ${upstream.url}\ndrain: { timeout: 1s }\n`,
    );
    try {
      const tunnel = await openTunnel(gateway.port);
      if (half === 'the client sent its FIN') tunnel.socket.end();
      await within(gateway.close(), GENEROUS_MS, 'close()');
      // Both peers keep their own half open (allowHalfOpen): each closes only when it finds the
      // gateway's socket gone whole, a write answered by a reset, not merely half-closed.
      await within(gone(tunnel.socket), GENEROUS_MS, "the gateway's side of the client connection going");
      await within(
        gone(upstream.sockets[0]),
        GENEROUS_MS,
        "the gateway's side of the upstream connection going",
      );
      const cut = gateway.logs.find((l) => l.msg.startsWith('drain deadline passed'));
      assert.equal(cut?.connections, 1, 'the deadline cut the tunnel');
      const line = gateway.logs.find((l) => l.msg === 'request');
      assert.equal(line?.status, 101, 'the tunnel still wrote its log line');
    } finally {
      await upstream.close();
    }
  });
}

test('a listener a reload removed cuts its tunnel at drain.timeout, as a drain would', async () => {
  const upstream = await startSilentTunnelUpstream();
  const rest = `routes:\n  - upstream: ws\nupstreams:\n  ws:\n    targets:\n      - url: ${upstream.url}\ndrain: { timeout: 1s }\n`;
  const gateway = await startTestGateway(`${rest}`, {}, '');
  // The port the reload moves the gateway to: not one a gateway's listen(0) picked and let go,
  // which another test file's server may be given meanwhile.
  const second = await freePort();
  try {
    // The second listener is the first gateway's once reloaded: the first's port is dropped.
    const tunnel = await openTunnel(gateway.port);
    await gateway.gateway.reload(
      parseConfig(`listen:\n  - address: 127.0.0.1:${second}\n${rest}`, '<test>', {}),
    );
    await within(gone(tunnel.socket), GENEROUS_MS, "the removed listener's tunnel going");
    await within(gone(upstream.sockets[0]), GENEROUS_MS, "the tunnel's upstream connection going");
  } finally {
    await within(gateway.close(), GENEROUS_MS, 'close()');
    await upstream.close();
  }
});

test("a WebSocket on a listener a reload removed gets the drain's Close 1001 at drain.timeout, and its line says drain", async () => {
  const upstream = await startSilentTunnelUpstream();
  const rest = `routes:\n  - upstream: ws\nupstreams:\n  ws:\n    targets:\n      - url: ${upstream.url}\ndrain: { timeout: 300ms }\n`;
  const gateway = await startTestGateway(`${rest}`, {}, '');
  const second = await freePort();
  try {
    const tunnel = await openTunnel(gateway.port);
    let after = Buffer.alloc(0);
    tunnel.socket.on('data', (chunk: Buffer) => {
      after = Buffer.concat([after, chunk]);
    });
    // Its FIN (the socket is half-open: it closes only once it ends its own side).
    const closed = new Promise((resolve) => tunnel.socket.once('end', resolve));
    await gateway.gateway.reload(
      parseConfig(`listen:\n  - address: 127.0.0.1:${second}\n${rest}`, '<test>', {}),
    );
    await within(closed, GENEROUS_MS, "the removed listener's tunnel going");
    // Nothing relayed either way: both ends between frames, so the client is told 1001 (going away).
    assert.equal(after.toString('hex'), '880203e9');
    const line = gateway.logs.find((l) => l.msg === 'request');
    assert.equal(line?.status, 101);
    assert.equal(line?.tunnel_closed_by, 'drain');
  } finally {
    await within(gateway.close(), GENEROUS_MS, 'close()');
    await upstream.close();
  }
});

/** A GET through the gateway on a connection of its own; resolves once `until` is in what came back. */
function sendGet(port: number, path: string, id: string, until: string): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`GET ${path} HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${id}\r\n\r\n`);
  return new Promise((resolve) => {
    let raw = '';
    const read = (chunk: Buffer) => {
      raw += chunk.toString('latin1');
      if (!raw.includes(until)) return;
      socket.off('data', read);
      resolve(socket);
    };
    socket.on('data', read);
    if (until === '') resolve(socket);
  });
}

test("a request cut at drain.timeout, before its answer's head or during its body: its try says the gateway's drain cut it, not the client", async () => {
  const silent = await startBlackhole();
  const stalled = await startHeadThenStall();
  const gateway = await startTestGateway(
    `routes:\n  - match: { path: /silent }\n    upstream: silent\n  - upstream: stalled\n` +
      `upstreams:\n  silent:\n    targets:\n      - url: ${silent.url}\n  stalled:\n    targets:\n      - url: ${stalled.url}\n` +
      'drain: { timeout: 1s }\n',
  );
  try {
    await sendGet(gateway.port, '/silent', 'before-head', '');
    await sendGet(gateway.port, '/stalled', 'in-body', 'xxxxxxxxxx');
    while (silent.received.length === 0) await new Promise((r) => setTimeout(r, 10));
    await within(gateway.close(), GENEROUS_MS, 'close()');
    // A single try is listed only where it differs from the line (access-log.ts): none here,
    // where it said `client_closed` (the first) or nothing of the cut (the second).
    const facts = async (id: string) => {
      const line = await gateway.logFor(id);
      const { status, error, stage, client_aborted, attempts, tries } = line;
      return { status, error, stage, client_aborted, attempts, tries };
    };
    const cut = { error: 'proxy_internal_response', client_aborted: false, attempts: 1, tries: undefined };
    assert.deepEqual(await facts('before-head'), { ...cut, status: 0, stage: 'sent' });
    assert.deepEqual(await facts('in-body'), { ...cut, status: 200, stage: 'body_streaming' });
  } finally {
    await silent.close();
    await stalled.close();
  }
});

test('close() right after a reload removed a listener still waits for its requests, and cuts them at drain.timeout with their lines', async () => {
  const silent = await startBlackhole();
  const rest = `routes:\n  - upstream: silent\nupstreams:\n  silent:\n    targets:\n      - url: ${silent.url}\ndrain: { timeout: 1s }\n`;
  const gateway = await startTestGateway(rest);
  // The port the reload moves the gateway to (not one a listen(0) picked and let go).
  const spare = await freePort();
  try {
    const client = await sendGet(gateway.port, '/', 'on-removed', '');
    while (silent.received.length === 0) await new Promise((r) => setTimeout(r, 10));
    // Its listener is removed (the spare's port replaces it): it closes once its request ends.
    await gateway.gateway.reload(
      parseConfig(`listen:\n  - address: 127.0.0.1:${spare}\n${rest}`, '<test>', {}),
    );
    await within(gateway.close(), GENEROUS_MS, 'close()');
    // Drained, the gateway had cut it and written its line: a worker exits once drained, and
    // would have cut it unlogged.
    const line = gateway.logs.find((l) => l.msg === 'request' && l.client_req_id === 'on-removed');
    assert.deepEqual([line?.status, line?.error], [0, 'proxy_internal_response']);
    await within(gone(client), GENEROUS_MS, 'the client connection going');
  } finally {
    await silent.close();
  }
});

test("a request a reload's removed listener cut at drain.timeout says so, not that the gateway was shutting down", async () => {
  const silent = await startBlackhole();
  const stalled = await startHeadThenStall();
  const rest =
    `routes:\n  - match: { path: /silent }\n    upstream: silent\n  - upstream: stalled\n` +
    `upstreams:\n  silent:\n    targets:\n      - url: ${silent.url}\n  stalled:\n    targets:\n      - url: ${stalled.url}\n` +
    'drain: { timeout: 1s }\n';
  const gateway = await startTestGateway(rest);
  // The port the reload moves the gateway to (not one a listen(0) picked and let go).
  const spare = await freePort();
  try {
    const before = await sendGet(gateway.port, '/silent', 'removed-before-head', '');
    const during = await sendGet(gateway.port, '/stalled', 'removed-in-body', 'xxxxxxxxxx');
    while (silent.received.length === 0) await new Promise((r) => setTimeout(r, 10));
    // The gateway runs on, on the spare's port; only the listener these two came on goes.
    await gateway.gateway.reload(
      parseConfig(`listen:\n  - address: 127.0.0.1:${spare}\n${rest}`, '<test>', {}),
    );
    await within(gone(before), GENEROUS_MS, 'the removed listener cutting the request before its head');
    await within(gone(during), GENEROUS_MS, 'the removed listener cutting the request in its body');
    const details =
      "a reload removed the connection's listener and the drain deadline passed: the gateway closed the connection";
    for (const [id, status] of [
      ['removed-before-head', 0],
      ['removed-in-body', 200],
    ] as const) {
      const line = await gateway.logFor(id);
      assert.deepEqual(
        [line.status, line.error, line.details],
        [status, 'proxy_internal_response', details],
        id,
      );
    }
  } finally {
    await within(gateway.close(), GENEROUS_MS, 'close()');
    await silent.close();
    await stalled.close();
  }
});
