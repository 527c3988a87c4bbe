/**
 * A probe reads a bounded part of its answer's body: past it the status decides and the
 * connection is closed. A health endpoint that answers 100 MB (a debug dump, a misrouted
 * download) or streams forever costs a few kilobytes per probe, not the whole body each
 * interval, and its 200 keeps it in rotation, as HAProxy's checks judge it. A body that stops
 * short of the bound is still owed whole within the check's `timeout`.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const HUNDRED_MB = 100 * 1024 * 1024;

/** A raw /health target: `answer` writes to each probe's socket; counts the bytes each probe's connection took. */
async function startHealthTarget(answer: (socket: net.Socket) => void) {
  const taken: number[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => answer(socket));
    socket.on('close', () => taken.push(socket.bytesWritten));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    /** Bytes written on each closed probe connection. */
    taken,
    close: () => {
      server.close();
      return new Promise<void>((resolve) => server.once('close', () => resolve()));
    },
  };
}

/** Writes `total` bytes of body as fast as the reader takes them (forever when Infinity). */
function pump(socket: net.Socket, total: number): void {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let sent = 0;
  const more = (): void => {
    while (sent < total && !socket.destroyed) {
      sent += chunk.length;
      if (!socket.write(chunk)) {
        socket.once('drain', more);
        return;
      }
    }
    if (!socket.destroyed) socket.end();
  };
  more();
}

async function withGateway(url: string, run: (gw: TestGateway) => Promise<void>): Promise<void> {
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${url}
    health_check: { path: /health, expect_status: "200", interval: 20ms, timeout: 5s, rise: 1, fall: 1 }
`);
  try {
    await run(gw);
  } finally {
    await gw.close();
  }
}

const targetOf = (gw: TestGateway) => {
  const target = gw.gateway.runtime().upstreams.get('app')?.targets[0];
  assert.ok(target);
  return target;
};

test('a 200 with a 100 MB body passes on its status, and no probe reads the body whole', async () => {
  const health = await startHealthTarget((socket) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${HUNDRED_MB}\r\n\r\n`);
    pump(socket, HUNDRED_MB);
  });
  try {
    await withGateway(health.url, async (gw) => {
      await waitUntil('three probes done', () => health.taken.length >= 3, 30_000);
      const target = targetOf(gw);
      assert.equal(target.lastProbe?.ok, true, JSON.stringify(target.lastProbe));
      assert.equal(target.checkedHealthy, true);
      assert.equal(gw.logs.filter((l) => l.msg === 'target down').length, 0);
      // What the kernel's buffers took beside what the probe read: megabytes, never the body.
      for (const bytes of health.taken)
        assert.ok(bytes < HUNDRED_MB / 4, `a probe's connection took ${bytes} bytes`);
    });
  } finally {
    await health.close();
  }
});

test('a 200 whose chunked body never ends passes on its status: the probe does not wait for an end', async () => {
  const health = await startHealthTarget((socket) => {
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = `${(64 * 1024).toString(16)}\r\n${'x'.repeat(64 * 1024)}\r\n`;
    const more = (): void => {
      while (!socket.destroyed) if (!socket.write(chunk)) return void socket.once('drain', more);
    };
    more();
  });
  try {
    await withGateway(health.url, async (gw) => {
      await waitUntil('three probes done', () => health.taken.length >= 3, 30_000);
      assert.equal(targetOf(gw).lastProbe?.ok, true, JSON.stringify(targetOf(gw).lastProbe));
      assert.equal(gw.logs.filter((l) => l.msg === 'target down').length, 0);
    });
  } finally {
    await health.close();
  }
});

test('a 500 with a 100 MB body fails on its status once the bound is read, named as its status', async () => {
  const health = await startHealthTarget((socket) => {
    socket.write(`HTTP/1.1 500 Broken\r\nContent-Length: ${HUNDRED_MB}\r\n\r\n`);
    pump(socket, HUNDRED_MB);
  });
  try {
    await withGateway(health.url, async (gw) => {
      const target = targetOf(gw);
      await waitUntil('out of rotation', () => !target.checkedHealthy, 30_000);
      assert.equal(target.lastProbe?.failure?.type, 'unexpected_status');
      assert.equal(target.lastProbe?.status, 500);
      const down = gw.logs.find((l) => l.msg === 'target down');
      assert.equal(down?.error, 'unexpected_status');
      assert.equal(down?.status, 500);
    });
  } finally {
    await health.close();
  }
});

test('a body short of the bound that stops coming is still owed whole: the timeout fails it', async () => {
  const health = await startHealthTarget((socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789');
  });
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${health.url}
    health_check: { path: /health, interval: 20ms, timeout: 100ms, rise: 1, fall: 1 }
`);
  try {
    const target = targetOf(gw);
    await waitUntil('out of rotation', () => !target.checkedHealthy, 10_000);
    assert.equal(target.lastProbe?.failure?.type, 'connection_read_timeout');
    assert.equal(target.lastProbe?.status, 200);
  } finally {
    await gw.close();
    await health.close();
  }
});
