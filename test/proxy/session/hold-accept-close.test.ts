/**
 * A restart behind a front that accepts and closes (docker-proxy's published port while its
 * container is down, a listener closing with connections in its backlog): a try that meets it
 * gets no answer, so it is no sign the target is back, and must not send every held request
 * to the same close. Real sockets: a port that refuses, then accepts and closes, then serves.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

test('a held request whose try meets a connection closed before any answer gets its 502; the others wait on, and go once the target answers', async () => {
  const port = await freePort();
  const edge = await startTestGateway(
    singleUpstream(`http://127.0.0.1:${port}`, {
      upstream: '    hold: { timeout: 30s }\n    retries: { attempts: 1 }\n',
    }),
  );
  const held = () => edge.gateway.runtime().upstreams.get('app')?.hold.size ?? 0;
  // Closes every connection as its request comes, until `serving`: then an HTTP server answers.
  let serving = false;
  const app = http.createServer((req, res) => res.end(`back ${req.url}`));
  const front = net.createServer((socket) => {
    socket.on('error', () => {});
    if (serving) return void app.emit('connection', socket);
    socket.once('data', () => socket.destroy());
  });
  try {
    const answers = [];
    for (const id of ['a', 'b', 'c']) {
      answers.push(request(edge.url, { path: `/${id}`, headers: { 'x-request-id': id }, timeoutMs: 30_000 }));
      await waitUntil(`${id} held`, () => held() === answers.length);
    }
    await new Promise<void>((resolve) => front.listen(port, '127.0.0.1', resolve));
    // The first in line tries again (every 250 ms) and meets the close.
    const first = await answers[0];
    assert.equal(first.status, 502);
    assert.match(String(first.headers['proxy-status']), /^edge-1; error=connection_terminated;/);
    assert.equal(held(), 2, 'the close took no request: the others still wait, none sent to it');
    serving = true;
    const rest = await Promise.all(answers.slice(1));
    assert.deepEqual(
      rest.map((r) => [r.status, r.text]),
      [
        [200, 'back /b'],
        [200, 'back /c'],
      ],
    );
    const line = await edge.logFor('a');
    assert.deepEqual([line.status, line.error, line.stage], [502, 'connection_terminated', 'sent']);
    assert.ok((line.held_ms as number) > 0);
  } finally {
    await edge.close();
    app.closeAllConnections();
    await new Promise((resolve) => front.close(resolve));
  }
});
