/**
 * A stage that decides on the upstream's head after waiting (stage.ts: an asynchronous
 * onUpstreamHead, a plugin's async onResponse), on real sockets: the answer is held meanwhile and
 * then relayed whole; an answer that ended while held lets its connection go on to the next
 * exchange (which the held one then never touches); a client that leaves while it is held ends it
 * without a word to anyone; an upstream that breaks while it is held is told as any break.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startResetMidBody } from '../../../src/kits/fault-kit/reset-faults.ts';
import type { RouteStage } from '../../../src/proxy/stages/stage.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** How long the head hook waits, by the request's `wait` query (ms). */
function waitOf(target: string): number {
  return Number(new URL(target, 'http://x').searchParams.get('wait') ?? '0');
}

const waiting: RouteStage = {
  name: 'waiting',
  timeoutMs: 2000,
  failOpen: false,
  start: (request) => {
    const ms = waitOf(request.head.target);
    if (ms === 0) return undefined;
    return {
      onUpstreamHead: (head) =>
        new Promise((resolve) =>
          setTimeout(() => {
            head.headers.push('x-waited', String(ms));
            resolve(undefined);
          }, ms),
        ),
    };
  },
};

/** An observer that fails open: its waiting head hook rejects on `?reject`, its edit then never made. */
const observer: RouteStage = {
  name: 'observer',
  timeoutMs: 2000,
  failOpen: true,
  start: (request) =>
    request.head.target.includes('reject')
      ? {
          onUpstreamHead: async (head) => {
            await new Promise((r) => setTimeout(r, 20));
            if (head.status === 200) throw new Error('observer broke');
          },
        }
      : undefined,
};

describe('an answer held while a stage decides on its head', () => {
  let app: Fault;
  let broken: Fault;
  let gw: TestGateway;

  before(async () => {
    app = await startEcho();
    broken = await startResetMidBody({ sentBytes: 100, contentLength: 1000 });
    gw = await startTestGateway(
      `routes:
  - { name: held, match: { path: /held }, upstream: app }
  - { name: broken, match: { path: /broken }, upstream: broken }
upstreams:
  app: { targets: [{ url: ${app.url} }], pool: { max_connections: 1 } }
  broken: { targets: [{ url: ${broken.url} }], retries: { attempts: 1 } }
`,
      {},
      '',
      { stages: () => [waiting, observer] },
    );
  });
  after(() => closeAll(gw, app, broken));

  test('a long body is held, then relayed whole after the edited head', async () => {
    const res = await request(gw.url, { path: '/held?wait=50&bytes=500000' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-waited'], '50');
    assert.equal(res.body.length, 500000);
    assert.equal(res.aborted, false);
  });

  test('an answer whole while held: its connection serves the next exchange meanwhile, and each client gets its own', async () => {
    const first = request(gw.url, { path: '/held?wait=300&name=first' });
    // The first answer is whole at the upstream and its connection back in the pool (of one).
    await new Promise((r) => setTimeout(r, 100));
    const second = await request(gw.url, { path: '/held?name=second' });
    const one = await first;
    assert.equal(second.status, 200);
    assert.equal(one.status, 200);
    assert.equal(one.headers['x-waited'], '300');
    const a = JSON.parse(one.text) as { url: string; connection: number };
    const b = JSON.parse(second.text) as { url: string; connection: number };
    assert.equal(a.url, '/held?wait=300&name=first');
    assert.equal(b.url, '/held?name=second');
    assert.equal(a.connection, b.connection, 'the second went on the first one’s connection');
    assert.equal((await request(gw.url, { path: '/held?name=third' })).status, 200, 'and it is still sound');
  });

  test('a stage that fails open and rejects after waiting: logged, and the answer goes on as the upstream gave it', async () => {
    const res = await request(gw.url, { path: '/held?wait=20&reject=1' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-waited'], '20', 'the stage before it had its say');
    assert.equal(JSON.parse(res.text).url, '/held?wait=20&reject=1');
    await waitUntil('the failure logged', () =>
      gw.logs.some((l) => l.msg === 'stage failed' && l.stage === 'observer' && l.hook === 'onUpstreamHead'),
    );
  });

  test('a client that leaves while its answer is held: logged as such, the gateway serves on', async () => {
    const id = 'left-while-held';
    const req = http.request(`${gw.url}/held?wait=300&bytes=200000`, { headers: { 'x-request-id': id } });
    req.on('error', () => {});
    req.end();
    await waitUntil('the upstream asked', () => app.received.some((r) => r.path.includes('bytes=200000')));
    // Its answer's head is back by now, held for 300 ms.
    await new Promise((r) => setTimeout(r, 60));
    req.destroy();
    const line = await gw.logFor(id);
    assert.equal(line.status, 499);
    assert.equal(line.error, 'client_closed');
    const after = await request(gw.url, { path: '/held?wait=20' });
    assert.equal(after.status, 200);
    assert.equal(after.headers['x-waited'], '20');
  });

  test('an upstream that breaks while its answer is held: told as a break, never a hang', async () => {
    const res = await request(gw.url, { path: '/broken?wait=400' });
    const line = await gw.logFor(res.headers['x-request-id'] as string);
    assert.equal(line.upstream, 'broken');
    assert.equal(line.error, 'http_response_incomplete');
    // Broken before anything went downstream (the reset comes 20 ms after the head; a worker too
    // loaded to see it for 400 ms relays the head first, and cuts the body).
    if (res.status === 200) assert.equal(res.aborted, true);
    else {
      assert.equal(res.status, 502);
      assert.match(String(res.headers['proxy-status']), /error=http_response_incomplete/);
      assert.equal(res.headers['x-waited'], undefined);
    }
  });
});
