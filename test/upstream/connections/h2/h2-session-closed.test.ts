/**
 * A stream slot taken on an HTTP/2 session that went away before its request was dispatched
 * (between the pool's pick and the request): node:http2 hands back a stream with no id that
 * closes INTERNAL_ERROR. Nothing went out, so the failure is `not_sent` however far the exchange
 * got (it had said `sent`, "reset by the upstream", and a POST was never retried on another
 * connection though the upstream never saw it). Against real h2c servers and a real session.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { classifyExchangeError } from '../../../../src/core/failure/classify.ts';
import type { Failure } from '../../../../src/core/failure/failure.ts';
import { h2Answer, startH2, startH2GoawayFirst } from '../../../../src/kits/fault-kit/h2-faults.ts';
import type { ExchangeHandler } from '../../../../src/upstream/connections/exchange-contract.ts';
import { H2Session } from '../../../../src/upstream/connections/h2/h2-session.ts';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { waitUntil } from '../../../helpers/wait.ts';

const keep = closeAfterAll();

/**
 * A session to `port` whose one slot is reserved, then `end` takes it away before the dispatch
 * (given the socket itself: node:http2 on Node 22 refuses destroy() on the session's proxy of
 * it): the failure the exchange places (at `sent`, as onResponseError does).
 */
async function dispatchOnEnded(
  port: number,
  end: (session: H2Session, socket: Socket) => void,
): Promise<Failure> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const owner = { streamEnded() {}, sessionEnded() {} };
  const session = new H2Session(socket, 0, owner, {
    scheme: 'http',
    authority: `127.0.0.1:${port}`,
    timeouts: { head: 1000, headName: 'response timeout', read: 1000, send: 1000 },
    maxStreams: 100,
    idleTimeout: 0,
    maxHeaderSize: 16 * 1024,
  });
  session.session.on('error', () => {});
  const slot = session.reserve();
  await waitUntil('the upstream speaks', () => session.prefaceCame || session.isEnded);
  end(session, socket);
  await waitUntil('the session ends', () => session.isEnded);
  const failure = await new Promise<Failure>((resolve) => {
    const handler = {
      onRequestStart() {},
      onBodyChunk() {},
      onRequestSent() {},
      onResponseError(_controller: unknown, failed: Failure) {
        resolve(failed);
      },
    } as unknown as ExchangeHandler;
    slot.dispatch({ method: 'POST', path: '/x', headers: ['host', 'a'], body: { kind: 'none' } }, handler);
  });
  session.destroy();
  return classifyExchangeError(failure, 'sent', 1);
}

test('the upstream sent GOAWAY (last stream 0) before the dispatch: connection_terminated, not_sent, unprocessed', async () => {
  const upstream = await keep(startH2GoawayFirst());
  const failure = await dispatchOnEnded(upstream.port, () => {});
  assert.equal(failure.type, 'connection_terminated');
  assert.match(failure.details, /GOAWAY \(NO_ERROR, last stream 0\) before processing this request/);
  assert.equal(failure.stage, 'not_sent');
  assert.equal(failure.unprocessed, true);
});

test('the connection closed (no GOAWAY) before the dispatch: connection_terminated, not_sent, never a reset by the upstream', async () => {
  const upstream = await keep(startH2(h2Answer));
  const failure = await dispatchOnEnded(upstream.port, (_session, socket) => socket.destroy());
  assert.equal(failure.type, 'connection_terminated');
  assert.match(failure.details, /^the HTTP\/2 connection closed before the request went out/);
  assert.equal(failure.stage, 'not_sent');
  assert.equal(failure.unprocessed, true);
});

test('the gateway closed the session itself (a reload, idle) before the dispatch: not_sent', async () => {
  const upstream = await keep(startH2(h2Answer));
  const failure = await dispatchOnEnded(upstream.port, (session) => session.close());
  assert.equal(failure.type, 'connection_terminated');
  assert.match(failure.details, /^the HTTP\/2 connection closed before the request went out/);
  assert.equal(failure.stage, 'not_sent');
});
