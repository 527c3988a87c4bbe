/**
 * How a tunnel ends (after the upstream's 101): a half-close either way is passed on, what one
 * side sent before it closed reaches the other, a reset reaches the other side as a reset, and
 * silence both ways is bounded by timeouts.tunnel_idle. The log line says who closed it.
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

test('a tunnel silent both ways for timeouts.tunnel_idle is closed on both sides, with its log line', async () => {
  let upstreamClosed = false;
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    // The fault keeps its half open: the gateway's close shows as the end of its stream.
    c.socket.on('end', () => {
      upstreamClosed = true;
    });
  });
  const gw = await startTestGateway(
    singleUpstream(upstream.url, { upstream: '    timeouts: { tunnel_idle: 300ms }\n' }),
  );
  try {
    const closedAfter = await new Promise<number>((resolve) => {
      const socket = net.connect(gw.port, '127.0.0.1');
      let switchedAt = 0;
      socket.on('data', () => {
        switchedAt ||= performance.now();
      });
      socket.on('close', () => resolve(performance.now() - switchedAt));
      socket.on('error', () => {});
      socket.write(`${UPGRADE}X-Request-Id: idle-1\r\n\r\n`);
    });
    assert.ok(closedAfter >= 250, `closed ${closedAfter} ms after the switch, not before the idle timeout`);
    const line = await gw.logFor('idle-1');
    assert.equal(line.status, 101);
    assert.equal(line.upgraded, true);
    assert.equal(line.tunnel_closed_by, 'idle_timeout');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(upstreamClosed, true, 'the upstream side was closed too');
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test("an upstream's last bytes before its FIN reach a client slower than it, then the FIN: nothing dropped at the close", async () => {
  const tail = Buffer.alloc(4 * 1024 * 1024, 'a');
  let tailSent = (): void => {};
  const sent = new Promise<void>((resolve) => {
    tailSent = resolve;
  });
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    // A last message and the close, handed to the kernel while the client is not reading yet.
    await c.end(tail);
    tailSent();
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const { raw, ended } = await new Promise<{ raw: Buffer; ended: boolean }>((resolve) => {
      const socket = net.connect(gw.port, '127.0.0.1');
      const chunks: Buffer[] = [];
      let ended = false;
      // A slow reader: when the upstream's FIN comes, the gateway still holds the tail's end in
      // the client socket's buffer (a fallback should a host's socket buffers not take it all).
      socket.pause();
      Promise.race([sent, new Promise((resolve) => setTimeout(resolve, 1000))]).then(() => socket.resume());
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.on('end', () => {
        ended = true;
        socket.end();
      });
      socket.on('close', () => resolve({ raw: Buffer.concat(chunks), ended }));
      socket.on('error', () => {});
      socket.write(`${UPGRADE}X-Request-Id: tail-1\r\n\r\n`);
    });
    assert.match(raw.subarray(0, 13).toString('latin1'), /^HTTP\/1\.1 101 /);
    const after = raw.length - (raw.indexOf('\r\n\r\n') + 4);
    assert.equal(after, tail.length, 'every byte the upstream sent after its 101 reached the client');
    assert.equal(ended, true, "the upstream's FIN was passed on as a FIN");
    const line = await gw.logFor('tail-1');
    assert.equal(line.status, 101);
    assert.equal(line.bytes_out, tail.length);
    assert.equal(line.tunnel_closed_by, 'upstream');
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test("an upstream's half-close is passed on, and what the client sends after it still reaches the upstream", async () => {
  let upstreamRead = '';
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    c.socket.on('data', (d: Buffer) => {
      upstreamRead += d.toString('latin1');
    });
    // Done sending, still reading (a shutdown of its write side): the client's FIN ends the rest.
    c.socket.on('end', () => c.socket.end());
    await c.end(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nserver-done',
    );
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const raw = await new Promise<string>((resolve) => {
      const socket = net.connect({ port: gw.port, host: '127.0.0.1', allowHalfOpen: true });
      let raw = '';
      socket.on('data', (d: Buffer) => {
        raw += d.toString('latin1');
      });
      // The upstream's FIN came through: the client says its last and ends its side too.
      socket.on('end', () => socket.end('client-last'));
      socket.on('close', () => resolve(raw));
      socket.on('error', () => {});
      socket.write(`${UPGRADE}X-Request-Id: half-up\r\n\r\n`);
    });
    assert.match(raw, /^HTTP\/1\.1 101 [\s\S]*\r\n\r\nserver-done$/);
    const line = await gw.logFor('half-up');
    assert.equal(line.status, 101);
    assert.equal(
      line.tunnel_closed_by,
      'upstream',
      'the upstream closed first: its FIN, then the client ended its side',
    );
    // Read by the upstream a turn or two after the log line on Node 22: waited for, not assumed.
    await waitUntil("the client's bytes after the upstream's FIN at the upstream", () => upstreamRead !== '');
    assert.equal(upstreamRead, 'client-last', "the client's bytes after the upstream's FIN reached it");
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test("a side's reset reaches the other side of the tunnel as a reset, never as a FIN that says the stream ended whole", async () => {
  for (const resets of ['upstream', 'client'] as const) {
    let upstreamSaw = '';
    const upstream = await startRawFault(async (c) => {
      await c.nextRequest();
      c.socket.on('end', () => {
        upstreamSaw = 'FIN';
      });
      c.socket.on('error', (err: NodeJS.ErrnoException) => {
        upstreamSaw = err.code ?? err.message;
      });
      await c.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\npart-of-a-message',
      );
      if (resets === 'upstream') await c.reset();
    });
    const gw = await startTestGateway(singleUpstream(upstream.url));
    try {
      const clientSaw = await new Promise<string>((resolve) => {
        const socket = net.connect(gw.port, '127.0.0.1');
        socket.on('data', (d: Buffer) => {
          if (resets === 'client' && d.includes('part-of-a-message')) socket.resetAndDestroy();
        });
        socket.on('end', () => resolve('FIN'));
        socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
        socket.on('close', () => resolve('closed'));
        socket.write(`${UPGRADE}X-Request-Id: reset-${resets}\r\n\r\n`);
      });
      const line = await gw.logFor(`reset-${resets}`);
      assert.equal(line.status, 101);
      assert.equal(line.tunnel_closed_by, resets);
      if (resets === 'upstream') {
        assert.equal(clientSaw, 'ECONNRESET', 'the client read a reset');
        assert.equal(line.upstream_reset, true);
      } else {
        await waitUntil('the upstream saw the end', () => upstreamSaw !== '');
        assert.equal(upstreamSaw, 'ECONNRESET', 'the upstream read a reset');
      }
    } finally {
      await gw.close();
      await upstream.close();
    }
  }
});

test("the client's FIN closes the tunnel: the line says the client closed it, though the upstream's close follows", async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    // It closes once the client's FIN reaches it: a close that follows, not the tunnel's cause.
    c.socket.on('end', () => c.socket.end());
    await c.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    await new Promise<void>((resolve) => {
      const socket = net.connect(gw.port, '127.0.0.1');
      socket.once('data', () => socket.end());
      socket.on('close', () => resolve());
      socket.on('error', () => {});
      socket.write(`${UPGRADE}X-Request-Id: fin-client\r\n\r\n`);
    });
    const line = await gw.logFor('fin-client');
    assert.equal(line.status, 101);
    assert.equal(line.tunnel_closed_by, 'client');
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test("a client's closing handshake (Close frame, then FIN) gets the upstream's Close frame back before the tunnel ends", async () => {
  // RFC 6455 §5.5.1, §7.1.1: the client's Close, masked; the server answers with its own, then closes TCP first.
  const clientClose = Buffer.from([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2]);
  const serverClose = Buffer.from([0x88, 0x02, 0x03, 0xe8]);
  let upstreamGot = Buffer.alloc(0);
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    c.socket.on('data', (d: Buffer) => {
      upstreamGot = Buffer.concat([upstreamGot, d]);
    });
    // Answers once the client's FIN came: the client's half is closed, its read side still open.
    c.socket.on('end', () => c.socket.end(serverClose));
    await c.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    const afterHead = await new Promise<Buffer>((resolve) => {
      const socket = net.connect({ port: gw.port, host: '127.0.0.1', allowHalfOpen: true });
      let raw = Buffer.alloc(0);
      socket.on('data', (d: Buffer) => {
        const first = raw.length === 0;
        raw = Buffer.concat([raw, d]);
        if (first) socket.end(clientClose);
      });
      socket.on('end', () => resolve(raw.subarray(raw.indexOf('\r\n\r\n') + 4)));
      socket.on('error', () => {});
      socket.write(`${UPGRADE}X-Request-Id: closing-handshake\r\n\r\n`);
    });
    assert.deepEqual(afterHead, serverClose);
    assert.deepEqual(upstreamGot, clientClose);
    const line = await gw.logFor('closing-handshake');
    assert.equal(line.tunnel_closed_by, 'client');
    assert.equal(line.bytes_out, serverClose.length);
  } finally {
    await gw.close();
    await upstream.close();
  }
});
