/**
 * What a reload changes for slow clients (docs/operations.md, "Reload": every field a reload
 * does not refuse takes effect): `limits.send_timeout`, `limits.buffer_total`, `limits.spool` and
 * `limits.body_min_rate`, each met by the next request of a connection open across the reload.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const MiB = 1024 * 1024;
// Past what loopback's socket buffers take of a client that reads nothing (a few MiB).
const BIG = Buffer.alloc(32 * MiB, 'r');

const reload = (gw: TestGateway, yaml: string) =>
  gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml}`, '<test>', {}));

/** `/small` answers 2 bytes, `/big` 32 MiB (the upstream counts the ones it sent whole), POSTs read. */
async function startUpstream() {
  const sent: string[] = [];
  const server = await listenOnLoopback((req, res) => {
    if (req.method === 'POST') {
      req.resume();
      req.on('end', () => res.end('whole'));
      return;
    }
    const body = req.url === '/big' ? BIG : Buffer.from('ok');
    res.on('finish', () => sent.push(req.url ?? ''));
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  return { ...server, sent };
}

const config = (url: string, limits: string, routeLimits = '{ buffer: 64MiB }') => `name: edge-1
limits: ${limits}
routes:
  - match: { path: / }
    upstream: app
    limits: ${routeLimits}
upstreams:
  app:
    targets: [{ url: "${url}" }]
`;

/** A raw client connection, kept open (paused, it reads nothing more: not even the gateway's FIN). */
async function connection(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.on('error', () => {});
  let received = '';
  socket.on('data', (c: Buffer) => {
    received += c.toString('latin1');
  });
  return { socket, received: () => received };
}

test('send_timeout, buffer_total and spool changed by a reload: a slow reader on a connection open across it meets the new ones', async (t) => {
  const app = await startUpstream();
  t.after(() => app.close());
  // Before: no spool, every slow reader's answer in memory (64 MiB per route), no cut for a minute.
  const gw = await startTestGateway(config(app.url, '{ send_timeout: 60s, spool: { max_total: 0 } }'));
  t.after(() => gw.close());
  const client = await connection(gw.port);
  t.after(() => client.socket.destroy());
  client.socket.write('GET /small HTTP/1.1\r\nHost: a\r\nX-Request-Id: before\r\n\r\n');
  await waitUntil('the first answer', () => client.received().endsWith('\r\n\r\nok'));

  // After: 16 KiB in memory for every slow reader together, a spool, a cut after 2 s of nothing
  // taken (time for the spool to take all 32 MiB first on a loaded machine: a cut before that
  // leaves the upstream's answer unfinished).
  await reload(gw, config(app.url, '{ send_timeout: 2s, buffer_total: 16KiB, spool: { max_total: 64MiB } }'));
  client.socket.pause();
  client.socket.write('GET /big HTTP/1.1\r\nHost: a\r\nX-Request-Id: after\r\n\r\n');
  // Cut by the new send_timeout (under the old one, a minute: no line until then).
  const line = await gw.logFor('after');
  assert.equal(line.status, 200);
  assert.equal(line.error, 'http_request_error', 'cut as a client that took nothing');
  assert.match(String(line.details), /client took no response bytes for/);
  // Past the new buffer_total, the rest went through the new spool: the upstream sent it all.
  assert.ok(Number(line.spooled) > 16 * MiB, `spooled ${line.spooled}: the rest was held in memory`);
  assert.deepEqual(app.sent, ['/small', '/big']);
});

test('spool.max_response lowered by a reload: the next slow reader spools no more than it', async (t) => {
  const app = await startUpstream();
  t.after(() => app.close());
  // A cut after 2 s of nothing taken: time for the spool to take all 32 MiB of the first /big on
  // a loaded machine (a 300 ms cut left the upstream's answer unfinished in CI).
  const gw = await startTestGateway(
    config(app.url, '{ send_timeout: 2s, buffer_total: 16KiB }', '{ buffer: 16KiB }'),
  );
  t.after(() => gw.close());
  const first = await connection(gw.port);
  t.after(() => first.socket.destroy());
  first.socket.pause();
  first.socket.write('GET /big HTTP/1.1\r\nHost: a\r\nX-Request-Id: before\r\n\r\n');
  assert.ok(Number((await gw.logFor('before')).spooled) > 16 * MiB, 'spooled under the first config');

  const second = await connection(gw.port);
  t.after(() => second.socket.destroy());
  second.socket.write('GET /small HTTP/1.1\r\nHost: a\r\n\r\n');
  await waitUntil('the small answer', () => second.received().endsWith('\r\n\r\nok'));
  await reload(
    gw,
    config(
      app.url,
      '{ send_timeout: 2s, buffer_total: 16KiB, spool: { max_response: 256KiB } }',
      '{ buffer: 16KiB }',
    ),
  );
  second.socket.pause();
  second.socket.write('GET /big HTTP/1.1\r\nHost: a\r\nX-Request-Id: after\r\n\r\n');
  const line = await gw.logFor('after');
  assert.equal(line.error, 'http_request_error');
  // The file stops at the new max_response; then the upstream waits for the client, cut with it.
  assert.ok(Number(line.spooled) <= 256 * 1024, `spooled ${line.spooled}: past the new max_response`);
  assert.deepEqual(app.sent, ['/big', '/small'], 'the second /big was not sent whole');
});

test('body_min_rate set by a reload cuts the next dripping upload of a connection open across it', async (t) => {
  const app = await startUpstream();
  t.after(() => app.close());
  const gw = await startTestGateway(
    config(app.url, '{ body_idle_timeout: 60s, body_read_timeout: 200ms, body_min_rate: 0 }'),
  );
  t.after(() => gw.close());
  const client = await connection(gw.port);
  t.after(() => client.socket.destroy());
  client.socket.write('GET /small HTTP/1.1\r\nHost: a\r\n\r\n');
  await waitUntil('the first answer', () => client.received().endsWith('\r\n\r\nok'));

  await reload(
    gw,
    config(app.url, '{ body_idle_timeout: 60s, body_read_timeout: 200ms, body_min_rate: 1MiB }'),
  );
  // 10 bytes of 100000, then nothing: under the new rate once body_read_timeout is past.
  client.socket.write(
    'POST / HTTP/1.1\r\nHost: a\r\nX-Request-Id: drip\r\nContent-Length: 100000\r\n\r\n0123456789',
  );
  await waitUntil('the 408', () => /HTTP\/1\.1 408 /.test(client.received()), 10_000);
  const line = await gw.logFor('drip');
  assert.equal(line.status, 408);
  assert.match(String(line.details), /request body slower than 1048576 bytes\/s/);
  assert.deepEqual(app.sent, ['/small'], 'the body never reached the upstream');
});
