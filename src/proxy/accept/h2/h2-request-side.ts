/**
 * The request side of a stream whose answer is whole (h2-answer.ts): a request side the client
 * has not ended is closed with RST_STREAM NO_ERROR, as the answer needs nothing more of it (RFC
 * 9113 §8.1); else the stream, half-closed on our side only, would hold its connection for as
 * long as the client likes.
 */
import http2, { type ServerHttp2Stream } from 'node:http2';

/** How long a client whose request side is open after a whole answer has to end it, before RST_STREAM NO_ERROR. */
const REQUEST_SIDE_GRACE_MS = 1_000;

/**
 * The whole answer is given to the stream (its END_STREAM after any body, or its trailers): a
 * request side still open is closed. Not at once: from inside node:http2's own write of the
 * trailers (wantTrailers), a reset would go before them and drop them. stream.close() lets what
 * the stream still holds leave first. True when the request side was open (the grace runs).
 */
export function endRequestSideAfterAnswer(stream: ServerHttp2Stream): boolean {
  // The usual case, a request the client ended: nothing to do.
  if (requestEnded(stream)) return false;
  // A client still sending a body it has in hand ends its side in a moment: it is given
  // REQUEST_SIDE_GRACE_MS to, as a reset in the middle of its upload reads to some clients
  // (curl) as a failed exchange. One that sends nothing more is reset then: bounded either way.
  const timer = setTimeout(() => {
    if (!requestEnded(stream)) stream.close(http2.constants.NGHTTP2_NO_ERROR);
  }, REQUEST_SIDE_GRACE_MS);
  timer.unref();
  stream.once('close', () => clearTimeout(timer));
  return true;
}

function requestEnded(stream: ServerHttp2Stream): boolean {
  // endAfterHeaders first (a request without a body, the usual one): `state` makes an object.
  return stream.endAfterHeaders || stream.closed || stream.destroyed || stream.state?.remoteClose === 1;
}
