/**
 * A pooled connection whose upstream closed it while it sat idle (its keep-alive timeout) is
 * not handed to the next request once the gateway has read the close: Node ends the socket's
 * own side a tick later and destroys it once that is done, and a request given the connection
 * in between was refused by the socket before a byte left (EPIPE), a 502 for a POST that never
 * reached the upstream. Real gateway, a raw TCP upstream, a raw keep-alive client.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const OK = (text: string) => `HTTP/1.1 200 OK\r\ncontent-length: ${text.length}\r\n\r\n${text}`;

/** Blocks the event loop (the gateway's too: it runs in this process) for `ms`. */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

test('a POST arriving as the upstream closes the idle connection goes on a new one, answered, never a 502', async (t) => {
  let client: net.Socket | undefined;
  let closeIdle!: () => void;
  const idleClosing = new Promise<void>((resolve) => {
    closeIdle = resolve;
  });
  const fault = await startRawFault(async (connection) => {
    if (connection.record.index === 1) {
      await connection.nextRequest({ body: true });
      await connection.write(OK('first'));
      await idleClosing;
      connection.socket.end(() => {
        // The FIN is out. The POST leaves the client now, and the gateway's loop is held
        // while both arrive: it reads the close first, then the POST, in one turn.
        client?.write(
          'POST /second HTTP/1.1\r\nHost: a\r\nX-Request-Id: second\r\nContent-Length: 4\r\n\r\ndata',
        );
        block(30);
      });
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
  assert.equal(line.reused, false, 'the POST went on a new connection');
  await waitUntil('the second answer', () => received.endsWith('\r\n\r\nfresh'), 3000);
  assert.deepEqual(
    fault.received.map((r) => `${r.method} ${r.path} #${r.connection}`),
    ['GET /first #1', 'POST /second #2'],
  );
});
