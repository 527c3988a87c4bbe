/**
 * listen[].proxy_protocol and a balancer's health checks as HAProxy makes them (`check` with
 * `send-proxy-v2`, or `check-send-proxy`): a connection that writes its header and resets at
 * once (HAProxy closes its checks with a reset, SO_LINGER 0, to keep no TIME_WAIT). The reset
 * often comes before the gateway takes the connection: the socket then has no peer address.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { exchangeWrites, v2Header } from '../../helpers/proxy-header.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

/**
 * Checks as HAProxy makes them: connect, the header, a reset (no FIN), all at once, from another
 * process while this one (the gateway's) is held: the kernel completes each connection and
 * takes its reset before the gateway accepts it, as it does when HAProxy is quicker than it.
 */
function checksWhileHeld(port: number, headers: Buffer[]): void {
  const script = `
    const net = require('node:net');
    const headers = ${JSON.stringify(headers.map((h) => h.toString('base64')))};
    (async () => {
      for (const header of headers)
        await new Promise((resolve) => {
          const socket = net.connect(${port}, '127.0.0.1');
          socket.on('error', () => {});
          socket.once('close', resolve);
          socket.once('connect', () => {
            socket.write(Buffer.from(header, 'base64'));
            socket.resetAndDestroy();
          });
        });
    })();`;
  execFileSync(process.execPath, ['-e', script], { timeout: 10_000 });
}

test("a balancer's health checks that write their header and reset at once are no refusal, though reset before the gateway took them", async () => {
  const app = await keep(listenOnLoopback((req, res) => res.end(String(req.headers['x-forwarded-for']))));
  const gw = await keep(
    startTestGateway(`${singleUpstream(app.url)}\n`, {}, 'proxy_protocol: { from: [127.0.0.1] }'),
  );
  // HAProxy's `check` with send-proxy-v2 (LOCAL), and `check-send-proxy` with send-proxy (v1).
  const tcp4 = Buffer.from([127, 0, 0, 1, 127, 0, 0, 1, 0x30, 0x39, 0x1f, 0x90]);
  checksWhileHeld(gw.port, [
    v2Header(0, 0x11, tcp4),
    Buffer.from('PROXY TCP4 127.0.0.1 127.0.0.1 12345 8080\r\n'),
  ]);
  // A request after them: its line is written after anything the checks made.
  const outcome = await exchangeWrites(gw.port, [
    `PROXY TCP4 192.0.2.1 10.0.0.1 56324 443\r\nGET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n`,
  ]);
  assert.match(outcome.text, /^HTTP\/1\.1 200 [\s\S]*\r\n\r\n192\.0\.2\.1$/);
  const refused = gw.logs.filter((l) => l.msg === 'PROXY protocol: connection refused');
  assert.deepEqual(refused, []);
});
