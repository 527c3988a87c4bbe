/**
 * What a worker still holds once an HTTP/2 flood is over: nothing. Floods (rapid reset, PING,
 * connections the client drops, connections closed for being idle) are run on real listeners,
 * and once every connection is closed no session, guard, response or request session of theirs
 * is left in the heap (counted with v8.queryObjects, which collects garbage first). Counts, not
 * RSS: the figures of a measured run are in README "Hostile peers".
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2, { type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import v8 from 'node:v8';
import { H2Answer } from '../../../../src/proxy/accept/h2/h2-answer.ts';
import { H2Guard } from '../../../../src/proxy/accept/h2/h2-guard.ts';
import { RequestSession } from '../../../../src/proxy/session/request-session.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';
import { waitUntil } from '../../../helpers/wait.ts';
import { type H2Fixture, startH2Fixture } from './h2-fixture.ts';
import {
  ERROR,
  goawayCode,
  headerBlock,
  headers,
  ping,
  RawH2Client,
  requestFields,
  rstStream,
} from './h2-frames.ts';

/** What v8.queryObjects counts the instances of (objects whose prototype chain holds its prototype). */
type Constructor = Parameters<typeof v8.queryObjects>[0];

const count = (ctor: Constructor): number => v8.queryObjects(ctor, { format: 'count' });

/** The constructor of node:http2's server sessions (node:http2 does not export it). */
function sessionClass(fx: H2Fixture): Promise<Constructor> {
  return new Promise((resolve) =>
    fx.h2.http2.once('session', (session: ServerHttp2Session) => resolve(session.constructor as Constructor)),
  );
}

/**
 * Waits until each class counts no more than it did before: the heap has let the flood go
 * (what closes last, a request's upstream attempt, may take a few turns). Each count is a full
 * garbage collection: looked at every 50 ms.
 */
async function untilReleased(before: Map<Constructor, number>): Promise<void> {
  const held = () => [...before].map(([ctor, n]) => [ctor.name, count(ctor) - n] as const);
  for (let tries = 0; tries < 100; tries++) {
    if (held().every(([, n]) => n <= 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(
    `still held: ${held()
      .map(([name, n]) => `${name} ${n}`)
      .join(', ')}`,
  );
}

test('raw floods on the HTTP/2 server: once every connection is closed, no session, guard or response is held (within the idle timeout)', async () => {
  // The default idle timeout (75 s) is far longer than the test: a closed session must not
  // wait for it to be let go.
  const fx = await startH2Fixture({
    limits: { maxClientResets: 10, maxPings: 5 },
    handle: (exchange) => {
      if (exchange.head.target === '/hang') return;
      exchange.answer.sendHead(200, 'OK', ['content-length', '2']);
      exchange.answer.write(Buffer.from('ok'));
      exchange.answer.end();
    },
  });
  try {
    const Session = sessionClass(fx);
    const classes: Constructor[] = [H2Guard, H2Answer];
    const first = await RawH2Client.connect(fx.port);
    classes.push(await Session);
    first.close();
    await waitUntil('the first session closed', () => fx.h2.sessions.size === 0);
    const before = new Map(classes.map((ctor) => [ctor, count(ctor)]));
    const clients: RawH2Client[] = [];
    for (let c = 0; c < 10; c++) {
      // Rapid reset: streams opened and cancelled until GOAWAY ENHANCE_YOUR_CALM.
      const reset = await RawH2Client.connect(fx.port);
      for (let i = 0; i < 30; i++) {
        reset.send(headers(1 + 2 * i, headerBlock(requestFields('/hang')), { endStream: false }));
        reset.send(rstStream(1 + 2 * i, ERROR.CANCEL));
      }
      // PING flood: GOAWAY ENHANCE_YOUR_CALM.
      const pinging = await RawH2Client.connect(fx.port);
      for (let i = 0; i < 20; i++) pinging.send(ping());
      // Answered, then dropped by the client; and left with a stream open when dropped.
      const answered = await RawH2Client.connect(fx.port);
      answered.send(headers(1, headerBlock(requestFields('/'))));
      answered.send(headers(3, headerBlock(requestFields('/hang'))));
      await answered.waitFor((f) => f.type === 0x1 && f.streamId === 1);
      clients.push(reset, pinging, answered);
    }
    for (const client of clients.filter((_, i) => i % 3 !== 2)) {
      assert.equal(goawayCode(await client.goaway()), ERROR.ENHANCE_YOUR_CALM);
      await client.untilClosed();
    }
    for (const client of clients) client.close();
    await waitUntil('every session closed', () => fx.h2.sessions.size === 0);
    assert.equal(fx.logged.length, 20);
    // The fixture keeps every exchange for the tests that look at them: let them go.
    (fx.exchanges as unknown[]).length = 0;
    await untilReleased(before);
  } finally {
    await fx.close();
  }
});

test('a rapid-reset flood through a gateway: once it ends, no request session, response, guard or HTTP/2 session of it is held', async (t) => {
  const upstream = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => upstream.close());
  const gw = await startTestGateway(
    `name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(upstream.address() as AddressInfo).port}
`,
    {},
    'http2: true',
  );
  t.after(() => gw.close());
  // One request first, for node:http2's session class and a baseline with everything loaded.
  const warm = http2.connect(gw.url);
  const res = warm.request({ ':path': '/' }).end();
  await new Promise((resolve) => res.on('response', resolve).resume().on('end', resolve));
  const Session = Object.getPrototypeOf(warm.constructor) as Constructor;
  await new Promise((resolve) => warm.close(() => resolve(undefined)));
  await gw.accessLine(1);
  const classes: Constructor[] = [RequestSession, H2Answer, H2Guard, Session];
  const before = new Map(classes.map((ctor) => [ctor, count(ctor)]));
  // M connections, each opening and cancelling streams 50 a turn until the server's GOAWAY
  // (past max_client_resets, 200 a window), as a rapid-reset client does.
  const connections = 10;
  let streams = 0;
  let goaways = 0;
  await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise<void>((resolve) => {
          const client = http2.connect(gw.url);
          client.on('error', () => {});
          client.on('goaway', (code: number) => {
            if (code === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM) goaways++;
          });
          client.on('close', resolve);
          const burst = () => {
            if (client.destroyed || client.closed) return;
            try {
              for (let i = 0; i < 50; i++) {
                const stream = client.request({ ':path': '/' });
                stream.on('error', () => {});
                stream.close(http2.constants.NGHTTP2_CANCEL);
                streams++;
              }
            } catch {
              return client.destroy();
            }
            setImmediate(burst);
          };
          client.on('connect', burst);
        }),
    ),
  );
  assert.equal(goaways, connections);
  assert.ok(streams >= connections * 200, `${streams} streams`);
  await untilReleased(before);
});
