/**
 * A request body still uploading across a reload (docs/operations.md, "Reload": a request in
 * flight finishes on the snapshot it began with). nginx and HAProxy finish it in their old
 * process too, but then close the connection ("Connection: close"); Candor keeps it, and the
 * next request on it takes the new config.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** An upstream that answers with its name and the body bytes it read. */
async function upstream(name: string) {
  const began: string[] = [];
  const server = await listenOnLoopback((req, res) => {
    began.push(req.url ?? '');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
    });
    req.on('end', () => res.end(`${name} ${bytes}`));
  });
  return { ...server, began };
}

const config = (to: string, a: string, b: string, removed = false) => `routes:
  - name: up
    match: { path: /up }
    upstream: ${to}
    request_buffering: false
upstreams:
  a: { targets: [{ url: "${a}" }] }
  b: { targets: [{ url: "${b}" }] }
${removed ? '' : '  c: { targets: [{ url: "http://127.0.0.1:9" }] }\n'}`;

test('an upload under way across a reload that moves its route and removes an upstream reaches its first upstream whole; the connection stays, its next request on the new config', async (t) => {
  const a = await upstream('a');
  const b = await upstream('b');
  t.after(() => Promise.all([a.close(), b.close()]));
  const gw = await startTestGateway(config('a', a.url, b.url));
  t.after(() => gw.close());
  const socket = net.connect(gw.port, '127.0.0.1');
  t.after(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = '';
  socket.on('data', (c: Buffer) => {
    received += c.toString('latin1');
  });
  // Streamed (request_buffering: false): the request is at upstream a before its body's end.
  const first = 'first';
  socket.write(
    `POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${first.length.toString(16)}\r\n${first}\r\n`,
  );
  await waitUntil('the upload to reach upstream a', () => a.began.length === 1);
  await gw.gateway.reload(
    parseConfig(`listen:\n  - address: 127.0.0.1:0\n${config('b', a.url, b.url, true)}`, '<test>', {}),
  );
  socket.write('6\r\nsecond\r\n0\r\n\r\n');
  await waitUntil('the first answer', () => received.endsWith(`a ${first.length + 6}`));
  assert.match(received, /^HTTP\/1\.1 200 OK\r\n/);
  assert.doesNotMatch(received, /connection: close/i, 'the connection is kept');
  socket.write('POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc');
  await waitUntil('the second answer', () => received.endsWith('b 3'));
  assert.equal(received.match(/HTTP\/1\.1 200 OK/g)?.length, 2);
  assert.deepEqual([a.began, b.began], [['/up'], ['/up']]);
});
