/**
 * A body that never ends but is never silent (server-sent events, a long poll, a log tail): no
 * read timeout cuts it and, a few bytes at a time, it would take days to reach --max-body.
 * diagnose stops reading it once the read timeout has passed in all, as it stops at --max-body:
 * not an error, said so, and the probe ends instead of hanging.
 */
import assert from 'node:assert/strict';
import { constants } from 'node:http2';
import { after, describe, test } from 'node:test';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import { startH2 } from '../../../src/kits/fault-kit/h2-faults.ts';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';

/** One byte every 40 ms, far inside any read timeout below. */
const DRIP_MS = 40;

describe('diagnose: an endless body that keeps trickling', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  test('HTTP/1.1, chunked: the body step stops after the read timeout in all, exit 0', {
    timeout: 15_000,
  }, async () => {
    const fault = await startRawFault(async (connection) => {
      await connection.nextRequest();
      await connection.write(
        'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n',
      );
      const drip = setInterval(() => void connection.write('1\r\n:\r\n').catch(() => {}), DRIP_MS);
      connection.socket.once('close', () => clearInterval(drip));
    });
    cleanups.push(() => fault.close());
    const report = await diagnose({ target: `${fault.url}/events`, readTimeout: 400 });
    const [target] = report.targets;
    const body = target.steps.at(-1);
    assert.equal(report.exitCode, 0);
    assert.equal(target.verdict.outcome, 'ok');
    assert.ok(body?.step === 'body' && body.ok, body?.summary);
    assert.equal(body.facts.capped, true);
    assert.equal(body.facts.complete, false);
    assert.equal(body.facts.cappedBy, 'time');
    assert.ok(body.facts.bytes > 0);
    assert.match(
      body.summary,
      /^still streaming after the read timeout of 400 ms in all: stopped reading \(\d+ bytes read, chunked\); not an error$/,
    );
  });

  test('HTTP/2 (h2c): DATA frames that never end stop the same way', { timeout: 15_000 }, async () => {
    const fault = await startH2((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      const drip = setInterval(() => {
        if (!stream.closed) stream.write(':');
      }, DRIP_MS);
      stream.once('close', () => clearInterval(drip));
      stream.once('error', () => stream.close(constants.NGHTTP2_CANCEL));
    });
    cleanups.push(() => fault.close());
    const report = await diagnose({ target: `${fault.url}/events`, protocol: 'h2c', readTimeout: 400 });
    const [target] = report.targets;
    const body = target.steps.find((step) => step.step === 'body');
    assert.equal(report.exitCode, 0);
    assert.ok(body?.step === 'body' && body.ok, body?.summary);
    assert.equal(body.facts.capped, true);
    assert.equal(body.facts.cappedBy, 'time');
    assert.match(
      body.summary,
      /^still streaming after the read timeout of 400 ms in all: stopped reading \(\d+ bytes read, DATA frames\); not an error$/,
    );
  });
});
