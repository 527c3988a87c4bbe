/**
 * An HTTP/2 connection the gateway closes (its idle timeout, a drain) gets GOAWAY and our FIN;
 * node:http2 then waits for the client's FIN with no deadline of its own. A client that never
 * sends one — on purpose, or node:http2's own client holding a response it never read — must
 * not hold the connection for good (its slot in `max_connections`, a descriptor) nor a drain
 * for its whole timeout: LINGER_MS after our FIN the socket is destroyed, as an HTTP/1.1
 * connection's lingering close is. And a client that reads nothing of its connection at all (its
 * TCP window shut) lets nothing leave, not the RST_STREAM of its stream's send deadline, not the
 * GOAWAY, not our FIN: node:http2 waits for ever to send them; the guard cuts the connection once
 * frames have waited a whole idle timeout with no byte sent.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { test } from 'node:test';
import { LINGER_MS } from '../../../../src/core/net/linger.ts';
import { listenOnLoopback } from '../../../helpers/loopback-server.ts';
import { listenerConnections, singleUpstream, startTestGateway } from '../../../helpers/test-gateway.ts';
import { headerBlock, headers, PREFACE, requestFields, settings, windowUpdate } from './h2-frames.ts';

const IDLE_MS = 300;

test('an h2c client that ignores the GOAWAY of its idle timeout and never closes is cut LINGER_MS after our FIN', async (t) => {
  const attackers: net.Socket[] = [];
  t.after(() => {
    for (const s of attackers) s.destroy();
  });
  const upstream = await listenOnLoopback((_req, res) => res.end('ok'));
  t.after(() => upstream.close());
  const gw = await startTestGateway(
    `${singleUpstream(upstream.url)}\nlimits: { http2: { idle_timeout: ${IDLE_MS}ms } }\n`,
    {},
    'http2: true',
  );
  t.after(() => gw.close());
  const connections = () => listenerConnections(gw);
  for (let i = 0; i < 2; i++) {
    // Its preface and SETTINGS, then nothing: never reads (so never sees our FIN), never closes.
    const s = net.connect({ port: gw.port, host: '127.0.0.1', allowHalfOpen: true });
    s.on('error', () => {});
    await new Promise<void>((resolve) => s.once('connect', () => resolve()));
    s.write(Buffer.concat([PREFACE, settings()]));
    s.pause();
    attackers.push(s);
  }
  while ((await connections()) < 2) await new Promise((r) => setTimeout(r, 10));

  // The bound: GOAWAY and FIN at the idle timeout, then LINGER_MS.
  const deadline = performance.now() + IDLE_MS + LINGER_MS + 1_000;
  while ((await connections()) > 0 && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  assert.equal(await connections(), 0, 'both connections destroyed within the deadline');
});

test('a drain is not held for its whole timeout by an h2c client that never read its answer', async (t) => {
  const upstream = await listenOnLoopback((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  t.after(() => upstream.close());
  const gw = await startTestGateway(
    `name: edge-1
routes:
  # Streamed: a body read whole first would wait for the client's END_STREAM before any attempt.
  - upstream: app
    request_buffering: false
upstreams:
  app:
    targets: [{ url: ${upstream.url} }]
    timeouts: { response: 300ms, total: 300ms }
    retries: { attempts: 1 }
drain: { timeout: 30s }
`,
    {},
    'http2: true',
  );
  // node:http2's client keeps its session open while a stream holds an answer nobody read.
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  t.after(() => session.destroy());
  const stream = session.request({
    ':method': 'POST',
    ':path': '/up',
    'content-length': '3000',
    'x-request-id': 'unread',
  });
  stream.on('error', () => {});
  // Part of the body, never ended: the total deadline's 408 comes, then RST_STREAM NO_ERROR.
  stream.write('x'.repeat(1000));
  const head = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
  assert.equal(head[':status'], 408);
  await gw.logFor('unread');

  await gw.close();
  assert.equal(
    gw.logs.some((l) => l.msg === 'drain deadline passed: connections still open were cut'),
    false,
  );
  assert.equal(gw.logs.filter((l) => l.msg === 'drained').length, 1);
});

test('a client that reads nothing of its connection, its windows opened wide, is cut once frames wait a whole idle timeout', async (t) => {
  const chunk = Buffer.alloc(64 * 1024, 120);
  // An answer without end, written as fast as the gateway takes it.
  const upstream = await listenOnLoopback((_req, res) => {
    let open = true;
    res.on('close', () => {
      open = false;
    });
    const pump = () => {
      while (open && res.write(chunk));
      if (open) res.once('drain', pump);
    };
    pump();
  });
  t.after(() => upstream.close());
  const SEND_MS = 500;
  const gw = await startTestGateway(
    `${singleUpstream(upstream.url)}\nlimits: { http2: { idle_timeout: ${IDLE_MS}ms, send_timeout: ${SEND_MS}ms } }\n`,
    {},
    'http2: true',
  );
  t.after(() => gw.close());
  const client = net.connect({ port: gw.port, host: '127.0.0.1', allowHalfOpen: true });
  client.on('error', () => {});
  t.after(() => client.destroy());
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  // Windows opened as wide as HTTP/2 allows, so the gateway sends until TCP itself stops it.
  client.write(
    Buffer.concat([
      PREFACE,
      settings([[0x4, 2 ** 31 - 1]]),
      windowUpdate(0, 2 ** 31 - 1 - 65_535),
      headers(1, headerBlock(requestFields('/big', 'GET'))),
    ]),
  );
  client.pause();
  while ((await listenerConnections(gw)) < 1) await new Promise((r) => setTimeout(r, 10));

  const deadline = performance.now() + SEND_MS + 3 * IDLE_MS + LINGER_MS + 2_000;
  while ((await listenerConnections(gw)) > 0 && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  assert.equal(await listenerConnections(gw), 0, 'the connection was cut');
  const cut = gw.logs.find((l) => l.msg === 'HTTP/2 bound passed' && String(l.code).startsWith('none'));
  assert.equal(cut?.bound, 'send_timeout');
  assert.equal(
    cut?.details,
    `the client read no byte of the connection for ${IDLE_MS} ms with frames waiting for it`,
  );
});
