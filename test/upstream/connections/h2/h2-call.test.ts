/**
 * One HTTP/2 call whose reader is slow: the exchange has paused the stream (its client does not
 * keep up) when the upstream's last frames arrive, so Node has closed the stream with the body
 * still unread whether it ended (END_STREAM) or was reset (RST_STREAM NO_ERROR). Against a real
 * h2c server writing those frames and a real node:http2 session; the exchange is a handler that
 * pauses at the head and reads on later, as exchange.ts does for a slow client.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import type { Failure } from '../../../../src/core/failure/failure.ts';
import { startH2Raw } from '../../../../src/kits/fault-kit/h2-faults.ts';
import type {
  ExchangeController,
  ExchangeHandler,
} from '../../../../src/upstream/connections/exchange-contract.ts';
import { H2Call } from '../../../../src/upstream/connections/h2/h2-call.ts';
import type { H2CallSession } from '../../../../src/upstream/connections/h2/h2-call-session.ts';
import { closeAfterAll } from '../../../helpers/keep.ts';

const keep = closeAfterAll();

type Outcome = { ended: string } | { failed: string; details: string };

/** Runs one GET on a session of its own, pausing the stream at the head and resuming it later. */
async function slowRead(url: string): Promise<Outcome> {
  const session = http2.connect(url);
  session.on('error', () => {});
  try {
    return await new Promise<Outcome>((resolve) => {
      let body = '';
      const handler: ExchangeHandler = {
        onRequestStart() {},
        onBodyChunk() {},
        onRequestSent() {},
        onInformational() {},
        onResponseStart(controller: ExchangeController) {
          controller.pause();
          // Node reads the rest of the frames meanwhile: the stream ends or is reset, unread.
          setTimeout(() => controller.resume(), 200);
        },
        onResponseData(_controller, chunk) {
          body += chunk.toString('latin1');
        },
        onResponseEnd() {
          resolve({ ended: body });
        },
        onResponseError(_controller, failure: Failure) {
          resolve({ failed: failure.type, details: failure.details });
        },
      };
      const facts: H2CallSession = {
        end: {},
        prefaceCame: true,
        maxHeaderSize: 32 * 1024,
        isUp: () => !session.closed && !session.destroyed,
        stalled: () => {},
        peerHeaderListSize: () => Number.POSITIVE_INFINITY,
        remoteAddress: () => undefined,
        remotePort: () => undefined,
      };
      const call = new H2Call(
        facts,
        handler,
        { method: 'GET', path: '/', headers: [], body: { kind: 'none' } },
        { head: 5_000, headName: 'response timeout', read: 5_000, send: 5_000 },
        () => {},
      );
      call.start(session.request({ ':path': '/' }, { endStream: true }));
    });
  } finally {
    session.destroy();
  }
}

const head = [
  [':status', '200'],
  ['content-type', 'text/plain'],
] as const;

test('a body ended by END_STREAM while the stream is paused is whole', async () => {
  const upstream = await keep(startH2Raw({ head, data: ['first ', 'part'] }));
  assert.deepEqual(await slowRead(upstream.url), { ended: 'first part' });
});

test('a body reset with NO_ERROR before its END_STREAM while the stream is paused is cut, never whole', async () => {
  const upstream = await keep(startH2Raw({ head, data: ['first ', 'part'], reset: 0 }));
  const outcome = await slowRead(upstream.url);
  assert.equal('failed' in outcome && outcome.failed, 'http_response_incomplete');
  assert.match(
    (outcome as { details: string }).details,
    /^response body cut short: stream reset by the upstream \(NO_ERROR\) after /,
  );
});

// RFC 9113 §8.1: a server may reset a stream NO_ERROR once its response is complete, and the
// client must not discard that response. Node's own http2 server does so in place of the empty
// END_STREAM frame when streams of one connection wait on flow control (three 20 MB downloads
// at once): all of a content-length came, then RST_STREAM NO_ERROR. Every byte it announced
// came, so the body is whole; it was cut (the client's HTTP/2 stream reset, the target judged).
test('a body reset with NO_ERROR once all its content-length came is whole (RFC 9113 §8.1)', async () => {
  const sized = [...head, ['content-length', '10']] as const;
  const upstream = await keep(startH2Raw({ head: sized, data: ['first ', 'part'], reset: 0 }));
  assert.deepEqual(await slowRead(upstream.url), { ended: 'first part' });
});

test('a body reset with NO_ERROR short of its content-length is cut', async () => {
  const sized = [...head, ['content-length', '11']] as const;
  const upstream = await keep(startH2Raw({ head: sized, data: ['first ', 'part'], reset: 0 }));
  const outcome = await slowRead(upstream.url);
  assert.equal('failed' in outcome && outcome.failed, 'http_response_incomplete');
});
