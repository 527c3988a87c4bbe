/**
 * `limits.keep_alive_timeout` against the gateway's own lag: a keep-alive connection's next
 * request, sent well within the timeout, waits unread in the socket while the worker's loop is
 * held (a plugin that computes, a long collection, a CPU saturated by load). Timers run before
 * I/O, so the idle wait passed first and the connection was closed under a request sent in time.
 * The loop is held for real (Atomics.wait on this process, the gateway's); no timing is asserted.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

test('a next request sent in time, unread while the loop is held past keep_alive_timeout: answered', async () => {
  const app = await startEcho();
  const gw = await startTestGateway(
    singleUpstream(app.url, { extra: 'limits: { header_timeout: 5s, keep_alive_timeout: 300ms }' }),
  );
  const client = net.connect(gw.port, '127.0.0.1');
  try {
    await new Promise<void>((resolve) => client.once('connect', resolve));
    let answer = '';
    client.on('data', (chunk) => (answer += chunk.toString('latin1')));
    const closed = new Promise<void>((resolve) => {
      client.on('error', () => resolve());
      client.on('close', () => resolve());
    });
    client.write('GET /one HTTP/1.1\r\nHost: x\r\nX-Request-Id: ka-1\r\n\r\n');
    await waitUntil('the first answer', () => answer.includes('\r\n\r\n'));
    await gw.logFor('ka-1');
    // The connection idles (its keep-alive wait armed). In a turn's check phase (after its poll,
    // so that the next turn runs its timers first) the next request goes, then the loop is held
    // 2.5 s: the idle wait (300 ms, on a timer that fires by 2 s after the accept at the latest,
    // moving-deadline.ts's lane) is due before the gateway reads it.
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        client.write('GET /two HTTP/1.1\r\nHost: x\r\nX-Request-Id: ka-2\r\nConnection: close\r\n\r\n');
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2500);
        resolve();
      }),
    );
    await closed;
    // Was: the connection closed after the first answer, the second request dropped unanswered.
    assert.equal(answer.match(/HTTP\/1\.1 200 OK\r\n/g)?.length, 2);
    assert.equal((await gw.logFor('ka-2')).status, 200);
  } finally {
    client.destroy();
    await gw.close();
    await app.close();
  }
});
