/**
 * The gateway's own lag is not the upstream's slowness. A worker's event loop held (a plugin
 * that computes, a large reload, a long collection, a CPU saturated by load) makes every timer
 * of that worker late, and Node runs timers before it reads its sockets: an answer the upstream
 * sent in time, or a connection the kernel made in time, waits unread while a deadline fires.
 * Blamed on the upstream, it is a 504 naming a healthy target, counted against it (ejection,
 * the circuit). Each clock looks again after the poll before it blames anyone.
 *
 * The loop is held for real here (Atomics.wait on this process, the gateway's), at the moment the
 * upstream has answered, or the connection is being made: no timing is asserted.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startHttpsEcho } from '../../src/kits/fault-kit/tls-faults.ts';
import type { Target } from '../../src/upstream/targets/upstream.ts';
import { request } from '../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../helpers/test-gateway.ts';

/** Holds this process's event loop (the gateway's) for `ms`: nothing of it runs meanwhile. */
function holdLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * An upstream that answers each request at once, and then, when `hold` says so, holds the loop
 * in the same turn: its answer is in the gateway's socket, unread, while the gateway's clocks run
 * out.
 */
async function answeringThenHolding(hold: () => number): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // a connection the gateway resets
    let seen = '';
    socket.on('data', (chunk) => {
      seen += chunk.toString('latin1');
      while (seen.includes('\r\n\r\n')) {
        seen = seen.slice(seen.indexOf('\r\n\r\n') + 4);
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        const ms = hold();
        if (ms > 0) holdLoop(ms);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Holds the loop 800 ms once, in the turn an attempt to `target` begins (its connect with it). */
function holdOnceConnecting(target: Target | undefined): () => boolean {
  assert.ok(target);
  let held = false;
  const watch = () => {
    if (target.active.count === 0) return void setImmediate(watch);
    held = true;
    holdLoop(800);
  };
  setImmediate(watch);
  return () => held;
}

const judged = `    outlier_detection: { consecutive_failures: 1 }
    circuit_breaker: { consecutive_failures: 1 }
    retries: { attempts: 1 }
`;

test("the loop held past the total timeout while the upstream's answer waits in the socket: 200, no target judged", async () => {
  let holds = 0;
  // The first request's answer is written, then the loop is held 800 ms: past the head clock and
  // the total deadline (300 ms each), both due when it lets go, the answer unread.
  const upstream = await answeringThenHolding(() => (holds++ === 0 ? 800 : 0));
  const gw = await startTestGateway(
    singleUpstream(upstream.url, { upstream: `    timeouts: { response: 300ms, total: 300ms }\n${judged}` }),
  );
  try {
    const res = await request(gw.url, { path: '/held', headers: { 'x-request-id': 'held' } });
    assert.equal(holds, 1, 'the loop was held once');
    // Was: 504 http_response_timeout "no response head within the total timeout of 300 ms",
    // the target ejected and the circuit opened, for an answer sent at once.
    assert.equal(res.status, 200);
    assert.equal(res.text, 'ok');
    assert.equal(res.headers['proxy-status'], undefined);
    const line = await gw.logFor('held');
    assert.equal(line.status, 200);
    assert.equal(line.error, undefined);
    assert.deepEqual(
      gw.logs.filter((l) => l.msg === 'target ejected' || l.msg === 'circuit opened'),
      [],
    );
    assert.equal((await request(gw.url, { path: '/after' })).status, 200, 'the target still in rotation');
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('the loop held past the connect timeout while the kernel made the connection: 200, no target judged', async () => {
  const upstream = await answeringThenHolding(() => 0);
  const gw = await startTestGateway(
    singleUpstream(upstream.url, {
      upstream: `    timeouts: { connect: 200ms, response: 5s, total: 5s }\n${judged}`,
    }),
  );
  try {
    // As soon as the attempt is under way (its connect begun, on loopback made by the kernel at
    // once), the loop is held 800 ms: the connect timer (200 ms) is due before the socket is seen.
    const held = holdOnceConnecting(gw.gateway.runtime().upstreams.get('app')?.targets[0]);
    const res = await request(gw.url, { path: '/connecting', headers: { 'x-request-id': 'connecting' } });
    assert.equal(held(), true);
    // Was: 504 connection_timeout "TCP connect not done after 200 ms", the target ejected.
    assert.equal(res.status, 200);
    assert.equal(res.headers['proxy-status'], undefined);
    const line = await gw.logFor('connecting');
    assert.equal(line.status, 200);
    assert.equal(line.reused, false);
    assert.deepEqual(
      gw.logs.filter((l) => l.msg === 'target ejected' || l.msg === 'circuit opened'),
      [],
    );
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('the loop held past the connect timeout, its TLS handshake begun only after: the handshake is given back the lag, 200', async () => {
  const upstream = await startHttpsEcho();
  const gw = await startTestGateway(
    singleUpstream(`https://127.0.0.1:${upstream.port}`, {
      upstream: `    tls: { ca: ${upstream.caPath}, servername: localhost }\n    timeouts: { connect: 200ms, response: 5s, total: 5s }\n${judged}`,
    }),
  );
  try {
    // Held as the TCP connect begins: the poll after it sees the connect made and only then sends
    // the ClientHello, when the connect timer has passed. The handshake never had its time.
    const held = holdOnceConnecting(gw.gateway.runtime().upstreams.get('app')?.targets[0]);
    const res = await request(gw.url, { path: '/handshake', headers: { 'x-request-id': 'handshake' } });
    assert.equal(held(), true);
    // Was: 504 connection_timeout "TCP connect not done after 200 ms" (or, looked at after the
    // poll alone, "TLS handshake not done after 200 ms"), the target ejected.
    assert.equal(res.status, 200);
    assert.equal(res.headers['proxy-status'], undefined);
    assert.equal((await gw.logFor('handshake')).status, 200);
    assert.deepEqual(
      gw.logs.filter((l) => l.msg === 'target ejected' || l.msg === 'circuit opened'),
      [],
    );
  } finally {
    await gw.close();
    await upstream.close();
  }
});
