/**
 * An HTTP/2 client that leaves while its request body is still coming: a reset of its stream
 * (its connection staying up) is logged as that reset, with its code, as one after the head is;
 * "client closed the connection" is for a connection that went.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../../src/kits/fault-kit/http-servers.ts';
import { singleUpstream, startTestGateway } from '../../../helpers/test-gateway.ts';
import { waitUntil } from '../../../helpers/wait.ts';
import {
  ERROR,
  FRAME,
  frame,
  headerBlock,
  headers,
  ping,
  RawH2Client,
  requestFields,
  rstStream,
} from './h2-frames.ts';

test('a client that resets its stream mid-body (CANCEL), its connection up: 499 naming the reset; one whose connection closes mid-body: naming the closed connection', async (t) => {
  const echo = await startEcho();
  t.after(() => echo.close());
  const gw = await startTestGateway(singleUpstream(echo.url), {}, 'http2: true');
  t.after(() => gw.close());
  const upload = (path: string) =>
    headers(1, headerBlock(requestFields(path, 'POST', [['content-length', '100']])), { endStream: false });
  const lineOf = async (path: string) => {
    const find = () => gw.logs.find((l) => l.msg === 'request' && l.path === path);
    await waitUntil('logged', () => find() !== undefined);
    return find();
  };

  const reset = await RawH2Client.connect(gw.port);
  t.after(() => reset.close());
  reset.send(upload('/reset'));
  reset.send(frame(FRAME.DATA, 0, 1, Buffer.alloc(10, 97)));
  reset.send(rstStream(1, ERROR.CANCEL));
  const resetLine = await lineOf('/reset');
  assert.equal(resetLine?.status, 499);
  assert.equal(resetLine?.error, 'client_closed');
  assert.equal(resetLine?.details, 'client reset the stream (CANCEL) while sending the body');
  assert.equal(reset.closed, false, 'the connection serves on');

  const dropped = await RawH2Client.connect(gw.port);
  dropped.send(upload('/dropped'));
  dropped.send(frame(FRAME.DATA, 0, 1, Buffer.alloc(10, 97)));
  // Once the gateway holds the stream (its SETTINGS ACK is no proof: a PING answered after it is).
  dropped.send(ping());
  await dropped.waitFor((f) => f.type === FRAME.PING);
  dropped.close();
  const droppedLine = await lineOf('/dropped');
  assert.equal(droppedLine?.status, 499);
  assert.equal(droppedLine?.details, 'client closed the connection while sending the body');
  assert.equal(echo.received.length, 0, 'nothing reached the upstream');
});
