/**
 * `limits.header_timeout` against the gateway's own lag: a client's whole head, sent well within
 * the timeout, waits unread in the socket while the worker's loop is held (a plugin that
 * computes, a long collection, a CPU saturated by load). Timers run before I/O, so the head wait
 * passed first: the connection, whose bytes the gateway had not seen, was reset as one that never
 * spoke (a 408 had a part of the head been read), for a request sent in time. The loop is held
 * for real (Atomics.wait on this process, the gateway's); no timing is asserted.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { listenerConnections, singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

test('a head sent in time, unread while the loop is held past header_timeout: answered, not reset', async () => {
  const app = await startEcho();
  const gw = await startTestGateway(singleUpstream(app.url, { extra: 'limits: { header_timeout: 300ms }' }));
  const client = net.connect(gw.port, '127.0.0.1');
  try {
    await new Promise<void>((resolve) => client.once('connect', resolve));
    await waitUntil('accepted', async () => (await listenerConnections(gw)) === 1);
    let answer = '';
    client.on('data', (chunk) => (answer += chunk.toString('latin1')));
    const closed = new Promise<string>((resolve) => {
      client.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? 'error'));
      client.on('close', () => resolve('closed'));
    });
    // The whole head goes at once, then the loop is held 800 ms: the head wait (300 ms from the
    // accept) is due before the gateway reads it.
    client.write('GET /x HTTP/1.1\r\nHost: x\r\nX-Request-Id: held\r\nConnection: close\r\n\r\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 800);
    const end = await closed;
    // Was: ECONNRESET, nothing answered and nothing logged.
    assert.equal(end, 'closed');
    assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal((await gw.logFor('held')).status, 200);
  } finally {
    client.destroy();
    await gw.close();
    await app.close();
  }
});
