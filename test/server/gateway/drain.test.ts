/**
 * SIGTERM drains (README "Signals and drain"): on a real `candor serve` process tree, with
 * real signals, upstreams on loopback and the access log in a file.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { type CandorProcess, startCandor, untilRefused } from './candor-process.ts';

/** Above what the process needs to start its exit once the drain is over (the log flushed, the IPC closed). */
const EXIT_MARGIN_MS = 3_000;

const UPGRADE =
  'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

function upstreamConfig(url: string, drain: string): string {
  return `routes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: ${url}\ndrain: ${drain}\n`;
}

/** An upstream that answers after `?delay=MS`, and counts the requests it has been sent. */
async function startSlowUpstream(): Promise<{ url: string; received: string[]; close(): Promise<void> }> {
  const received: string[] = [];
  const server = http.createServer((req, res) => {
    received.push(req.url ?? '');
    const delay = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay') ?? 0);
    const timer = setTimeout(() => res.end('done'), delay);
    res.once('close', () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An upstream that switches protocols and then neither sends nor closes (a half-open WebSocket). */
async function startHalfOpenTunnelUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', () =>
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Opens an upgrade through the gateway; resolves once the 101 arrived, with when the connection closed. */
async function openTunnel(
  port: number,
  id: string,
): Promise<{ closed: Promise<number>; socket: net.Socket }> {
  const socket = net.connect(port, '127.0.0.1');
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    let raw = '';
    socket.on('data', (chunk: Buffer) => {
      raw += chunk.toString('latin1');
      if (raw.includes('\r\n\r\n')) {
        if (raw.startsWith('HTTP/1.1 101 ')) resolve();
        else reject(new Error(`expected a 101, got ${raw}`));
      }
    });
    socket.write(`${UPGRADE}X-Request-Id: ${id}\r\n\r\n`);
  });
  return { closed, socket };
}

interface Answer {
  status: number;
  connection: string | undefined;
  body: string;
  reusedSocket: boolean;
  /** When the server closed the connection (performance.now()), if it did. */
  closedAt: Promise<number>;
}

/** One request through `agent` (keep-alive, one socket: the second request reuses the first's connection). */
function get(agent: http.Agent, port: number, path: string, id: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers: { 'x-request-id': id } }, (res) => {
      const socket = res.socket;
      const closedAt = new Promise<number>((done) => socket.once('close', () => done(performance.now())));
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          connection: res.headers.connection,
          body,
          reusedSocket: req.reusedSocket,
          closedAt,
        }),
      );
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`${path} not answered`)));
  });
}

async function waitUntil(check: () => boolean, what: string, waitMs = 5_000): Promise<void> {
  const until = performance.now() + waitMs;
  while (!check()) {
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function requestLine(candor: CandorProcess, id: string) {
  // The id the test sent: the gateway does not adopt it from its untrusted loopback client.
  return candor.lines().find((l) => l.msg === 'request' && l.client_req_id === id);
}

test('SIGTERM: a slow request on a kept-alive connection ends with Connection: close, accept stops, idle connections close, exit 0 with every line logged', async (t) => {
  const upstream = await startSlowUpstream();
  const candor = await startCandor(upstreamConfig(upstream.url, '{ timeout: 5s }'));
  const busy = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const idle = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const first = await get(busy, candor.port, '/?delay=0', 'keep-1');
    assert.equal(first.status, 200);
    assert.equal(first.connection, 'keep-alive');
    const parked = await get(idle, candor.port, '/?delay=0', 'idle-1');
    assert.equal(parked.connection, 'keep-alive');

    const slow = get(busy, candor.port, '/?delay=1500', 'slow-1');
    await waitUntil(
      () => upstream.received.includes('/?delay=1500'),
      'the slow request to reach the upstream',
    );
    const signalledAt = performance.now();
    candor.primary.kill('SIGTERM');

    const refusedAfter = await untilRefused(candor.port, 1_400);
    const idleClosedAfter = (await parked.closedAt) - signalledAt;
    const answer = await slow;
    const answeredAfter = performance.now() - signalledAt;
    assert.ok(answer.reusedSocket, 'the slow request went on the kept-alive connection');
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'done');
    assert.equal(answer.connection, 'close', 'the response in flight says the connection closes');
    await answer.closedAt;
    assert.ok(
      refusedAfter < answeredAfter,
      'new connections were refused while the slow response was still in flight',
    );
    assert.ok(
      idleClosedAfter < 1_000,
      `the idle keep-alive connection closed at once (${idleClosedAfter} ms)`,
    );

    const exit = await Promise.race([
      candor.exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no exit')), 5_000 + EXIT_MARGIN_MS),
      ),
    ]);
    const exitAfter = exit.at - signalledAt;
    assert.equal(exit.code, 0, candor.stderr());
    t.diagnostic(
      `refused after ${refusedAfter.toFixed(0)} ms, idle closed after ${idleClosedAfter.toFixed(0)} ms, ` +
        `slow answered after ${answeredAfter.toFixed(0)} ms, exit after ${exitAfter.toFixed(0)} ms`,
    );
    for (const id of ['keep-1', 'idle-1', 'slow-1']) {
      const line = requestLine(candor, id);
      assert.equal(line?.status, 200, `the log line of ${id}`);
    }
    assert.equal(requestLine(candor, 'slow-1')?.client_aborted, false);
    assert.ok(candor.lines().some((l) => l.msg === 'drained'));
  } finally {
    busy.destroy();
    idle.destroy();
    await candor.cleanup();
    await upstream.close();
  }
});

test('SIGTERM: a half-open tunnel and a request its upstream never answers are cut at drain.timeout, each with its log line', async (t) => {
  const tunnelUpstream = await startHalfOpenTunnelUpstream();
  const hanging = await startSlowUpstream();
  const candor = await startCandor(
    `routes:\n  - upstream: ws\n    match: { path: /ws }\n  - upstream: app\nupstreams:\n  ws:\n    targets:\n      - url: ${tunnelUpstream.url}\n  app:\n    targets:\n      - url: ${hanging.url}\ndrain: { timeout: 1s }\n`,
  );
  try {
    const tunnel = await openTunnel(candor.port, 'tunnel-1');
    const stuck = get(new http.Agent(), candor.port, '/?delay=60000', 'stuck-1').catch((err: Error) => err);
    await waitUntil(() => hanging.received.length === 1, 'the hanging request to reach its upstream');
    const signalledAt = performance.now();
    candor.primary.kill('SIGTERM');
    const tunnelClosedAfter = (await tunnel.closed) - signalledAt;
    const exit = await candor.exited;
    const exitAfter = exit.at - signalledAt;
    assert.equal(exit.code, 0, candor.stderr());
    assert.ok(tunnelClosedAfter >= 900, `the tunnel lived until the deadline (${tunnelClosedAfter} ms)`);
    assert.ok(exitAfter < 1_000 + EXIT_MARGIN_MS, `exited within drain.timeout + margin (${exitAfter} ms)`);
    assert.ok((await stuck) instanceof Error, 'the hanging request was cut');
    t.diagnostic(
      `tunnel closed after ${tunnelClosedAfter.toFixed(0)} ms, exit after ${exitAfter.toFixed(0)} ms`,
    );

    const tunnelLine = requestLine(candor, 'tunnel-1');
    assert.equal(tunnelLine?.status, 101);
    assert.equal(tunnelLine?.upgraded, true);
    assert.equal(tunnelLine?.tunnel_closed_by, 'drain', 'the drain closed it, not the client it cut');
    // The client got no status line: the line says none (0), neither the 503 never written nor
    // the 499 of a client that left; the failure is the gateway's.
    const stuckLine = requestLine(candor, 'stuck-1');
    assert.deepEqual(
      {
        status: stuckLine?.status,
        error: stuckLine?.error,
        shape: stuckLine?.shape,
        flag: stuckLine?.flag,
        stage: stuckLine?.stage,
        details: stuckLine?.details,
        client_aborted: stuckLine?.client_aborted,
        attempts: stuckLine?.attempts,
      },
      {
        status: 0,
        error: 'proxy_internal_response',
        shape: 'gateway',
        flag: 'PIR',
        stage: 'sent',
        details: 'the gateway was shutting down and its drain deadline passed: it closed the connection',
        client_aborted: false,
        attempts: 1,
      },
    );
    const cut = candor.lines().find((l) => l.msg.startsWith('drain deadline passed'));
    assert.equal(cut?.connections, 2);
  } finally {
    await candor.cleanup();
    await tunnelUpstream.close();
    await hanging.close();
  }
});

test('a second SIGTERM during the drain ends it at once, still writing the log, which names the signal', async (t) => {
  const tunnelUpstream = await startHalfOpenTunnelUpstream();
  const hanging = await startSlowUpstream();
  const candor = await startCandor(
    `routes:\n  - upstream: ws\n    match: { path: /ws }\n  - upstream: app\nupstreams:\n  ws:\n    targets:\n      - url: ${tunnelUpstream.url}\n  app:\n    targets:\n      - url: ${hanging.url}\ndrain: { timeout: 20s }\n`,
  );
  try {
    const tunnel = await openTunnel(candor.port, 'tunnel-2');
    const stuck = get(new http.Agent(), candor.port, '/?delay=60000', 'stuck-2').catch((err: Error) => err);
    await waitUntil(() => hanging.received.length === 1, 'the hanging request to reach its upstream');
    const signalledAt = performance.now();
    candor.primary.kill('SIGTERM');
    await candor.waitForLine((l) => l.msg === 'draining: stopped accepting', 'the drain to begin');
    // The listeners' sockets close as the line is written: on a loaded machine the worker may
    // write it a moment before its last socket is gone, so the refusal is polled for, not sampled.
    await untilRefused(candor.port, 5_000);
    // The first signal alone leaves the tunnel to its 20 s deadline.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(candor.primary.exitCode, null, 'still draining after the first signal');
    const secondAt = performance.now();
    candor.primary.kill('SIGTERM');
    const tunnelClosedAfter = (await tunnel.closed) - secondAt;
    const exit = await candor.exited;
    assert.equal(exit.code, 0, candor.stderr());
    const exitAfterSecond = exit.at - secondAt;
    assert.ok(
      exitAfterSecond < EXIT_MARGIN_MS,
      `ended at once (${exitAfterSecond} ms after the second signal)`,
    );
    t.diagnostic(
      `first SIGTERM to exit ${(exit.at - signalledAt).toFixed(0)} ms; tunnel closed ${tunnelClosedAfter.toFixed(0)} ms and exit ${exitAfterSecond.toFixed(0)} ms after the second`,
    );
    assert.equal(requestLine(candor, 'tunnel-2')?.status, 101);
    assert.ok((await stuck) instanceof Error, 'the hanging request was cut');
    // Cut by the operator's second signal, long before the deadline: the line says which.
    const stuckLine = requestLine(candor, 'stuck-2');
    assert.deepEqual(
      [stuckLine?.status, stuckLine?.error, stuckLine?.details],
      [
        0,
        'proxy_internal_response',
        'the gateway was shutting down and a second signal ended its drain at once: it closed the connection',
      ],
    );
    assert.ok(candor.lines().some((l) => l.msg.startsWith('drain ended at once')));
  } finally {
    await candor.cleanup();
    await tunnelUpstream.close();
    await hanging.close();
  }
});

test('with --workers 2, SIGTERM drains both workers (each finishing its request with Connection: close) and the primary exits 0 after them', async (t) => {
  const upstream = await startSlowUpstream();
  const candor = await startCandor(upstreamConfig(upstream.url, '{ timeout: 5s }'), 2);
  try {
    const workers = candor.workers();
    assert.equal(workers.length, 2);
    // Round robin hands each new connection to the next worker: two connections, one each.
    const answers = [0, 1].map((i) => get(new http.Agent(), candor.port, `/?delay=1000&n=${i}`, `w-${i}`));
    await waitUntil(() => upstream.received.length === 2, 'both requests to reach the upstream');
    const signalledAt = performance.now();
    candor.primary.kill('SIGTERM');
    for (const answer of await Promise.all(answers)) {
      assert.equal(answer.status, 200);
      assert.equal(answer.connection, 'close');
    }
    const exit = await candor.exited;
    const exitAfter = exit.at - signalledAt;
    assert.equal(exit.code, 0, candor.stderr());
    assert.ok(exitAfter < 5_000 + EXIT_MARGIN_MS, `exited within drain.timeout + margin (${exitAfter} ms)`);
    for (const pid of workers) assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} is gone`);
    assert.equal(candor.lines().filter((l) => l.msg === 'drained').length, 2, 'both workers drained');
    assert.equal(requestLine(candor, 'w-0')?.status, 200);
    assert.equal(requestLine(candor, 'w-1')?.status, 200);
    assert.doesNotMatch(candor.stderr(), /starting another/, 'no worker was restarted during the drain');
    t.diagnostic(`exit after ${exitAfter.toFixed(0)} ms`);
  } finally {
    await candor.cleanup();
    await upstream.close();
  }
});
