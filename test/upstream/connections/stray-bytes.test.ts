/**
 * Bytes an upstream sends past a complete HTTP/1.1 response (a second status line, garbage after
 * Content-Length, anything on an idle connection) close the connection, never reused: right,
 * but it left no trace. One warn line now says so, naming the upstream, the target and the
 * bytes, at most a line a second (with how many connections since); the request's own line
 * and status stay as they were: its answer was whole and right.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const STRAY = 'upstream sent bytes past its response: connection closed, not reused';

async function through(t: TestContext, fault: Fault, upstream = ''): Promise<TestGateway> {
  let gw: TestGateway | undefined;
  t.after(async () => {
    await fault.close();
    await gw?.close();
  });
  gw = await startTestGateway(singleUpstream(fault.url, { upstream }));
  return gw;
}

test('a second answer in the read of the first: one warn line naming upstream, target and bytes; the request logged 200 as it was', async (t) => {
  const second = 'HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nPOISONED';
  const fault = await startRawFault(async (connection) => {
    await connection.nextRequest();
    await connection.write(`HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok${second}`);
  });
  const gw = await through(t, fault);
  const res = await request(gw.url, { path: '/a', headers: { 'x-request-id': 'first' } });
  assert.equal(res.status, 200);
  assert.equal(res.text, 'ok');
  const line = await gw.logFor('first');
  assert.equal(line.status, 200);
  assert.equal(line.error, undefined);
  await waitUntil('the stray-bytes line', () => gw.logs.some((l) => l.msg === STRAY));
  const stray = gw.logs.filter((l) => l.msg === STRAY);
  assert.equal(stray.length, 1);
  assert.equal(stray[0].level, 'warn');
  assert.equal(stray[0].upstream, 'app');
  assert.equal(stray[0].target, new URL(fault.url).host);
  assert.equal(stray[0].bytes, Buffer.byteLength(second));
  assert.equal(stray[0].connections, 1);
});

test('bytes on a connection idle in the pool: the same line, once; the next request opens a new connection', async (t) => {
  const fault = await startRawFault(async (connection) => {
    await connection.nextRequest();
    await connection.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    // Once the gateway has parked the connection.
    await sleep(100);
    await connection.write('garbage');
  });
  const gw = await through(t, fault);
  assert.equal((await request(gw.url, { path: '/a' })).status, 200);
  await waitUntil('the stray-bytes line', () => gw.logs.some((l) => l.msg === STRAY));
  const stray = gw.logs.filter((l) => l.msg === STRAY);
  assert.deepEqual(
    stray.map((l) => [l.upstream, l.bytes, l.connections]),
    [['app', 7, 1]],
  );
  assert.equal((await request(gw.url, { path: '/b' })).status, 200);
  assert.equal(fault.connections, 2);
});

test('a flood of poisoned connections is not a flood of lines: the first at once, the rest counted in the next', async (t) => {
  const fault = await startRawFault(async (connection) => {
    await connection.nextRequest();
    await connection.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokX');
  });
  const gw = await through(t, fault, '    pool: { max_connections: 1, queue_timeout: 5s }');
  const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => request(gw.url, { path: `/q${i}` })));
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(6).fill(200),
  );
  const counts = () => gw.logs.filter((l) => l.msg === STRAY).map((l) => Number(l.connections));
  await waitUntil('every connection told', () => counts().reduce((a, b) => a + b, 0) === 6);
  // Six within a second or so: the first line at once, the others together after it (a slow
  // machine may take longer than a second over them, and then write one more).
  assert.equal(counts()[0], 1);
  assert.ok(counts().length < 6, `lines: ${counts()}`);
});
