/**
 * listen[].proxy_protocol's header wait on real sockets: a v2 length that never arrives, many
 * slow headers at once (each cut at limits.header_timeout, the listener serving on, the
 * refusals told at most once a second), and a connection the gateway itself closes while it
 * waits (a drain), which is no refusal.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { exchangeWrites, v2Header } from '../../helpers/proxy-header.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const keep = closeAfterAll();

const echoHeaders = () =>
  keep(
    listenOnLoopback((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.headers));
    }),
  );

const GET = (id: string) =>
  `GET /who HTTP/1.1\r\nHost: app\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`;

function upstreamSaw(text: string): Record<string, string> {
  assert.match(text, /^HTTP\/1\.1 200 /, text);
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
}

const tcp4Body = (a: number[]) => Buffer.from([...a, 10, 0, 0, 1, 0xdc, 0x04, 0x01, 0xbb]);
const tlv = (type: number, value: Buffer) =>
  Buffer.concat([Buffer.from([type, value.length >> 8, value.length & 0xff]), value]);

const refusals = (gw: TestGateway, since: number) =>
  gw.logs.slice(since).filter((l) => l.msg === 'PROXY protocol: connection refused');

test('a v2 length larger than what arrives: waited for up to limits.header_timeout, then closed and logged once', async () => {
  const app = await echoHeaders();
  const gw = await keep(
    startTestGateway(
      `${singleUpstream(app.url)}\nlimits: { header_timeout: 300ms }\n`,
      {},
      'proxy_protocol: { from: [127.0.0.1] }',
    ),
  );
  const whole = v2Header(1, 0x11, Buffer.concat([tcp4Body([192, 0, 2, 1]), tlv(0xe0, Buffer.alloc(500))]));
  const outcome = await exchangeWrites(gw.port, [whole.subarray(0, 100)]);
  assert.deepEqual(outcome, { text: '', closed: true });
  await waitUntil('the refusal logged', () => refusals(gw, 0).length > 0);
  const lines = refusals(gw, 0);
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.equal(lines[0].reason, 'no PROXY header within the header timeout');
});

test('many slow headers at once are all cut at the header timeout; the listener serves on', async () => {
  const app = await echoHeaders();
  const gw = await keep(
    startTestGateway(
      `${singleUpstream(app.url)}\nlimits: { header_timeout: 300ms }\n`,
      {},
      'proxy_protocol: { from: [127.0.0.1] }',
    ),
  );
  const drip = 'PROXY TCP4 192.0.2.1 10.0.0.1 56324 443';
  // A byte every 50 ms: 2 s for the whole line, against a deadline of 300 ms.
  const trickle = async () => {
    const socket = net.connect(gw.port, '127.0.0.1');
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    let over = false;
    void closed.then(() => {
      over = true;
    });
    await new Promise((resolve) => socket.once('connect', resolve));
    for (const byte of drip) {
      if (over) break;
      socket.write(byte);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await closed;
    return over;
  };
  const cut = await Promise.all(Array.from({ length: 60 }, trickle));
  assert.ok(cut.every(Boolean));
  const outcome = await exchangeWrites(gw.port, [
    `PROXY TCP4 192.0.2.2 10.0.0.1 1 2\r\n${GET('edge-after-slow')}`,
  ]);
  assert.equal(upstreamSaw(outcome.text)['x-forwarded-for'], '192.0.2.2');
  // Told at most once a second, each line counting the refusals since the last.
  const lines = refusals(gw, 0);
  assert.ok(lines.length >= 1 && lines.length < 60, `${lines.length} lines for 60 refusals`);
});

test('a connection the gateway closes while it waits for the header (a drain, a shutdown) is no refusal logged a header timeout later', async () => {
  const app = await echoHeaders();
  const gw = await startTestGateway(
    `${singleUpstream(app.url)}\nlimits: { header_timeout: 300ms }\n`,
    {},
    'proxy_protocol: { from: [127.0.0.1] }',
  );
  const socket = net.connect(gw.port, '127.0.0.1');
  socket.on('error', () => {});
  const closed = new Promise((resolve) => socket.once('close', resolve));
  await new Promise((resolve) => socket.once('connect', resolve));
  // Silent, as a balancer's pre-opened connection: the drain closes it at once.
  await gw.close();
  await closed;
  // Past the header timeout the gate's timer, had it outlived the connection, has told of it.
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.deepEqual(refusals(gw, 0), []);
});

test('a source in proxy_protocol.from that ends its connection halfway through its header is refused and logged, naming it', async () => {
  const app = await echoHeaders();
  const gw = await keep(
    startTestGateway(`${singleUpstream(app.url)}\n`, {}, 'proxy_protocol: { from: [127.0.0.1] }'),
  );
  // A v1 header cut short (its balancer crashed, a middlebox cut it): closed in silence, an
  // operator could not tell its connections from a health check's, which sends nothing at all.
  const socket = net.connect(gw.port, '127.0.0.1');
  socket.on('error', () => {});
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.end('PROXY TCP4 192.0.2.1 ');
  await closed;
  await waitUntil('the refusal logged', () => refusals(gw, 0).length > 0);
  const lines = refusals(gw, 0);
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.equal(lines[0].client, '127.0.0.1');
  assert.equal(
    lines[0].reason,
    'a PROXY header cut short: the connection ended after 21 bytes of it, from a source in proxy_protocol.from',
  );
  assert.equal(lines[0].level, 'warn');
});

test("a source in proxy_protocol.from that opens and closes without a byte (a balancer's health check) is no refusal", async () => {
  const app = await echoHeaders();
  const gw = await keep(
    startTestGateway(`${singleUpstream(app.url)}\n`, {}, 'proxy_protocol: { from: [127.0.0.1] }'),
  );
  const before = gw.logs.length;
  const socket = net.connect(gw.port, '127.0.0.1');
  socket.on('error', () => {});
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.end();
  await closed;
  // A request after it: its line is written after anything the closed connection made.
  const outcome = await exchangeWrites(gw.port, [
    'PROXY TCP4 192.0.2.1 10.0.0.1 56324 443\r\n',
    GET('after'),
  ]);
  assert.equal(upstreamSaw(outcome.text)['x-forwarded-for'], '192.0.2.1');
  assert.deepEqual(refusals(gw, before), []);
});

test('a PROXY header sent in time, unread while the loop is held past the header timeout: served, not refused', async () => {
  const app = await echoHeaders();
  const gw = await keep(
    startTestGateway(
      `${singleUpstream(app.url)}\nlimits: { header_timeout: 300ms }\n`,
      {},
      'proxy_protocol: { from: [127.0.0.1] }',
    ),
  );
  const socket = net.connect(gw.port, '127.0.0.1');
  socket.on('error', () => {});
  let text = '';
  socket.on('data', (chunk) => (text += chunk.toString('latin1')));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise((resolve) => socket.once('connect', resolve));
  // The gateway has taken the connection and armed its wait (300 ms) by then.
  await new Promise((resolve) => setTimeout(resolve, 50));
  // Sent and held in the check phase: the next turn runs the due wait before it polls the socket.
  await new Promise((resolve) => setImmediate(resolve));
  socket.write(`PROXY TCP4 192.0.2.1 10.0.0.1 56324 443\r\n${GET('held-header')}`);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 800);
  await closed;
  assert.equal(upstreamSaw(text)['x-forwarded-for'], '192.0.2.1');
  assert.equal(refusals(gw, 0).length, 0);
});
