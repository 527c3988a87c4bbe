/**
 * A pooled connection whose upstream closes it while it sits idle (its keep-alive timeout), met
 * by a request in the same turn of the gateway's loop. Read before the request took it, the
 * close keeps the connection from being handed out: Node ends the socket's own side a tick later
 * and destroys it once that is done, and a request given the connection in between was refused
 * by the socket before a byte left (EPIPE). Read after, while the request still waits in the
 * gateway for the end of the turn, the close finds none of it sent. Either way the request never
 * reached the upstream: it goes on a new connection, a POST too, where it was a 502. Real
 * gateway, a raw TCP upstream, a raw keep-alive client.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const OK = (text: string) => `HTTP/1.1 200 OK\r\ncontent-length: ${text.length}\r\n\r\n${text}`;

/** Blocks the event loop (the gateway's too: it runs in this process) for `ms`. */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/**
 * Runs GET /first on a keep-alive client, then has the upstream close that idle connection and
 * the client send POST /second in one turn of the gateway's loop (which runs in this process:
 * held meanwhile): `close-first`, its FIN goes out before the POST; else the POST first, then
 * its FIN or its reset.
 */
async function closeAsPostArrives(
  t: TestContext,
  how: 'close-first' | 'close-after' | 'reset-after',
  method: 'POST' | 'GET' = 'POST',
) {
  let client: net.Socket | undefined;
  const post =
    method === 'POST'
      ? 'POST /second HTTP/1.1\r\nHost: a\r\nX-Request-Id: second\r\nContent-Length: 4\r\n\r\ndata'
      : 'GET /second HTTP/1.1\r\nHost: a\r\nX-Request-Id: second\r\n\r\n';
  let closeIdle!: () => void;
  const idleClosing = new Promise<void>((resolve) => {
    closeIdle = resolve;
  });
  const fault = await startRawFault(async (connection) => {
    if (connection.record.index === 1) {
      await connection.nextRequest({ body: true });
      await connection.write(OK('first'));
      await idleClosing;
      if (how === 'close-first')
        connection.socket.end(() => {
          client?.write(post);
          block(30);
        });
      else {
        client?.write(post);
        // Either goes at once.
        if (how === 'reset-after') connection.socket.resetAndDestroy();
        else connection.socket.destroy();
        block(30);
      }
      return;
    }
    for (;;) {
      await connection.nextRequest({ body: true });
      await connection.write(OK('fresh'));
    }
  });
  t.after(() => fault.close());
  const gw = await startTestGateway(singleUpstream(fault.url));
  t.after(() => gw.close());
  client = net.connect(gw.port, '127.0.0.1');
  t.after(() => client?.destroy());
  let received = '';
  client.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  client.write('GET /first HTTP/1.1\r\nHost: a\r\n\r\n');
  await waitUntil('the first answer', () => received.endsWith('\r\n\r\nfirst'), 3000);
  closeIdle();
  const line = await gw.logFor('second');
  assert.equal(line.status, 200, JSON.stringify(line));
  assert.equal(line.error, undefined);
  await waitUntil('the second answer', () => received.endsWith('\r\n\r\nfresh'), 3000);
  assert.deepEqual(
    fault.received.map((r) => `${r.method} ${r.path} #${r.connection}`),
    ['GET /first #1', `${method} /second #2`],
  );
  return line;
}

test('the close read first: the POST is never handed the closed connection, and goes on a new one', async (t) => {
  const line = await closeAsPostArrives(t, 'close-first');
  assert.equal(line.reused, false);
  assert.equal(line.attempts, 1);
});

// A request without a body is held whole for the turn's end (request-out.ts), one with its body
// in hand too, not corked: the same truth either way, none of it sent.
for (const [how, method] of [
  ['close-after', 'POST'],
  ['reset-after', 'POST'],
  ['close-after', 'GET'],
] as const) {
  test(`the ${how === 'close-after' ? 'close' : 'reset'} read after the ${method} took the connection, none of it sent: the ${method} goes again on a new one`, async (t) => {
    const line = await closeAsPostArrives(t, how, method);
    assert.equal(line.attempts, 2);
    assert.deepEqual(
      (line.tries as { error?: string; stage?: string }[]).map((t) => `${t.error} ${t.stage}`),
      ['connection_terminated not_sent', 'undefined undefined'],
    );
  });
}
