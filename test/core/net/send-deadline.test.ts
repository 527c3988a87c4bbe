/**
 * The send deadline counts from the last byte the client took (issue 32, item 3 of its tester's
 * findings): a client that took its window just after the deadline was armed, then nothing,
 * is cut a timeout after that take (one look late at most), not up to two timeouts after it,
 * so the failure's "no response bytes for N ms" is true.
 *
 * A unit test, on mocked timers: a real client's take lands at a moment of its own, and the
 * gap between a cut at 1.1 timeouts and one at 2 could only be read off the clock, which this
 * loaded machine does not keep to. The cut itself, on real HTTP/2 and HTTP/1.1 clients that
 * take nothing, is pinned by test/proxy/accept/h2/h2-send-deadline.test.ts and
 * test/proxy/forward/slow-readers.test.ts.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { SendDeadline, type SendProgress } from '../../../src/core/net/send-deadline.ts';

const TIMEOUT = 800;

/** A response with bytes waiting for its client, which the test makes take some. */
class Waiting implements SendProgress {
  closed = false;
  pendingBytes = 1_000_000;
  flushedBytes = 0;
}

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval'] }));
afterEach(() => mock.timers.reset());

function armed(progress: SendProgress): { deadline: SendDeadline; cut: () => boolean } {
  let cut = false;
  const deadline = new SendDeadline(progress, { ms: TIMEOUT, field: 'limits.http2.send_timeout' }, () => {
    cut = true;
  });
  deadline.watch();
  return { deadline, cut: () => cut };
}

test('a client that takes nothing is cut at the timeout, not before', () => {
  const { cut } = armed(new Waiting());
  mock.timers.tick(TIMEOUT - 1);
  assert.equal(cut(), false);
  mock.timers.tick(1);
  assert.equal(cut(), true);
});

test('a client that took bytes just after the deadline was armed, then none, is cut a timeout after the take (one look late at most)', () => {
  const progress = new Waiting();
  const { cut } = armed(progress);
  mock.timers.tick(10);
  progress.flushedBytes = 65_535; // its initial window, taken at once
  mock.timers.tick(TIMEOUT - 1);
  assert.equal(cut(), false, 'not before a timeout since the take');
  mock.timers.tick(TIMEOUT / 8);
  assert.equal(cut(), true, 'within a timeout and one look (an eighth) of the take');
});

test('a client that keeps taking is never cut; one that drained disarms it', () => {
  const progress = new Waiting();
  const { deadline, cut } = armed(progress);
  for (let i = 0; i < 20; i++) {
    mock.timers.tick(TIMEOUT / 2);
    progress.flushedBytes += 1;
  }
  assert.equal(cut(), false);
  assert.equal(deadline.armed, true);
  progress.pendingBytes = 0;
  mock.timers.tick(TIMEOUT);
  assert.equal(deadline.armed, false);
  mock.timers.tick(2 * TIMEOUT);
  assert.equal(cut(), false);
});
