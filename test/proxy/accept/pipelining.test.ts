/**
 * One request at a time per connection (README, "Hostile peers"): a client that pipelines
 * thousands of requests on one connection gets them answered in order, one after the other,
 * never run side by side upstream, so it cannot take the upstream pool from everyone else;
 * and past a small read-ahead the gateway stops reading its socket.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

const PIPELINED = 5000;

test(`one connection pipelining ${PIPELINED} GETs runs one at a time upstream, and other clients keep getting 200`, async (t) => {
  let running = 0;
  let mostAtOnce = 0;
  let seen = 0;
  const upstream = await listenOnLoopback((req, res) => {
    const attack = req.url?.startsWith('/pipelined') ?? false;
    if (attack) {
      seen++;
      mostAtOnce = Math.max(mostAtOnce, ++running);
    }
    // Answered a turn later: requests run side by side would overlap here.
    setImmediate(() => {
      if (attack) running--;
      res.end('ok');
    });
  });
  t.after(() => upstream.close());
  // The default pool (128 connections): the bound that the attack used to take whole.
  const gw = await startTestGateway(singleUpstream(upstream.url));
  t.after(() => gw.close());

  const attacker = net.connect(gw.port, '127.0.0.1');
  t.after(() => attacker.destroy());
  let answers = 0;
  let received = '';
  const allAnswered = new Promise<void>((resolve, reject) => {
    attacker.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      // Count status lines as they come, keeping only the tail a split line may need.
      const lines = received.split('HTTP/1.1 200 ');
      answers += lines.length - 1;
      received = lines[lines.length - 1];
      if (answers >= PIPELINED) resolve();
    });
    attacker.on('error', reject);
    attacker.on('close', () => reject(new Error(`closed after ${answers} answers`)));
  });
  const one = 'GET /pipelined HTTP/1.1\r\nHost: a\r\n\r\n';
  attacker.write(one.repeat(PIPELINED));

  // Meanwhile, other clients are served.
  const others = await Promise.all(
    Array.from({ length: 5 }, (_, i) => request(gw.url, { path: `/other/${i}` })),
  );
  assert.deepEqual(
    others.map((r) => r.status),
    [200, 200, 200, 200, 200],
  );
  await allAnswered;
  assert.equal(seen, PIPELINED, 'every pipelined request reached the upstream, in turn');
  assert.equal(mostAtOnce, 1, 'never more than one of them at once');
  attacker.destroy();
});

test('a pipelining client that does not read its answers stops being read (backpressure), and others are served', async (t) => {
  let seen = 0;
  const big = Buffer.alloc(64 * 1024, 'x');
  const upstream = await listenOnLoopback((req, res) => {
    if (req.url?.startsWith('/pipelined')) {
      seen++;
      res.end(big);
    } else res.end('ok');
  });
  t.after(() => upstream.close());
  const gw = await startTestGateway(singleUpstream(upstream.url));
  t.after(() => gw.close());

  const attacker = net.connect(gw.port, '127.0.0.1');
  t.after(() => attacker.destroy());
  attacker.on('error', () => {});
  attacker.pause(); // never reads
  await new Promise<void>((resolve) => attacker.once('connect', () => resolve()));
  attacker.write('GET /pipelined HTTP/1.1\r\nHost: a\r\n\r\n'.repeat(PIPELINED));

  // Let the gateway answer as much as the sockets between them hold.
  let last = -1;
  while (seen !== last) {
    last = seen;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  // What the client did not read fills the socket buffers (a few MiB on loopback, 64 KiB a
  // response): the gateway stops there, one request at a time, instead of running them all.
  assert.ok(
    seen < PIPELINED / 5,
    `the gateway stopped forwarding when the client stopped reading (saw ${seen})`,
  );
  const other = await request(gw.url, { path: '/other' });
  assert.equal(other.status, 200);
  attacker.destroy();
});
