import { subscribe } from 'node:diagnostics_channel';
import type { ClientHttp2Stream } from 'node:http2';

/**
 * Streams the upstream reset with NO_ERROR before their END_STREAM. Node ends the body of such a
 * stream as it ends one at END_STREAM ('end', rstCode 0), and a paused stream (a slow client)
 * shows neither apart at 'end' or 'close'. What tells them is the order: Node marks the readable
 * side ended at END_STREAM, before the stream closes; at a reset it closes the stream first.
 * The channel is published synchronously as the stream closes (Node's closeStream). Read by
 * h2-call.ts at a stream's end.
 */
export const resetBeforeEnd = new WeakSet<ClientHttp2Stream>();
subscribe('http2.client.stream.close', (message) => {
  const stream = (message as { stream: ClientHttp2Stream & { _readableState: { ended: boolean } } }).stream;
  if (stream.rstCode === 0 && !stream._readableState.ended) resetBeforeEnd.add(stream);
});
