/**
 * Hop 5, the body, read on by the parser that read the head, to its end by its framing, up to
 * a size cap (reaching the cap stops the reading; it is not an error). A cut, a stall or broken
 * chunks are the Failures the gateway logs once the head has gone downstream.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { Failure } from '../../core/failure/failure.ts';
import type { Framing } from '../../core/http1/parsed-answer.ts';
import { connectionEnded } from '../../upstream/connections/http1/connection-ended.ts';
import type { AnswerReader } from './answer-reader.ts';
import type { BodyDecoding } from './body-decoding.ts';
import { since } from './plan.ts';
import type { SocketFeed } from './socket-feed.ts';
import type { BodyFraming } from './types.ts';

export interface BodyResult {
  readonly framing: BodyFraming;
  readonly bytes: number;
  readonly expected?: number;
  readonly complete: boolean;
  readonly capped: boolean;
  /** Why reading stopped short of the end: --max-body, or a body still coming after the read timeout in all. */
  readonly cappedBy?: 'size' | 'time';
  readonly ms: number;
  /** The first bytes of the body (up to 64 KiB), to recognise a portal page. */
  readonly sniff: Buffer;
  /** Bytes that came past the response's end (the gateway closes the connection for them). */
  readonly stray?: Buffer;
  readonly failure?: Failure;
}

/** The parser's framing names, in the report's words. */
const FRAMING: Readonly<Record<Framing, BodyFraming>> = {
  none: 'none',
  length: 'content-length',
  chunked: 'chunked',
  close: 'close-delimited',
};

export async function readBody(
  feed: SocketFeed,
  reader: AnswerReader,
  limits: { readonly readTimeout: number; readonly maxBody: number; readonly writtenAt: number },
): Promise<BodyResult> {
  const started = performance.now();
  const { framing, contentLength } = reader.head as NonNullable<AnswerReader['head']>;
  const result = (capped: false | 'size' | 'time', failure?: Failure): BodyResult => ({
    framing: FRAMING[framing],
    bytes: reader.bodyBytes,
    expected: framing === 'length' ? contentLength : undefined,
    complete: reader.complete,
    capped: capped !== false,
    ...(capped === false ? {} : { cappedBy: capped }),
    ms: since(started),
    sniff: reader.sniff,
    stray: reader.stray,
    failure,
  });
  const stage = { stage: 'body_streaming' } as const;
  const { decoding } = reader;
  for (;;) {
    // The chunk that completed the head may have brought the whole body, or its fault.
    if (reader.failure) return decoded(decoding, result(false, reader.failure.at('body_streaming')));
    if (decoding?.failure) return decoded(decoding, result(false, decoding.failure));
    if (reader.complete) {
      if (decoding === undefined) return result(false);
      // Whole as framed: whole as content once its coding is undone, as the gateway undoes it.
      const settled = await Promise.race([
        decoding.end().then(() => true),
        sleep(limits.readTimeout, undefined, { ref: false }),
      ]);
      if (decoding.failure) return result(false, decoding.failure);
      return settled ? result(false) : decoded(decoding, result(false));
    }
    if (reader.bodyBytes > limits.maxBody) return decoded(decoding, result('size'));
    // A body that never ends but is never silent (server-sent events, a long poll) passes every
    // read timeout and, a few bytes at a time, would hold the probe for days short of --max-body:
    // once the read timeout has passed in all, reading stops there as at the cap, not an error.
    if (reader.bodyBytes > 0 && since(started) >= limits.readTimeout)
      return decoded(decoding, result('time'));
    const event = await feed.next(limits.readTimeout);
    if (event.kind === 'data') {
      reader.feed(event.chunk);
      continue;
    }
    if (event.kind === 'timeout') {
      decoding?.destroy();
      const details = `response body stalled: nothing for ${limits.readTimeout} ms (read timeout) after ${reader.bodyBytes} bytes`;
      return result(false, new Failure('connection_read_timeout', details, stage));
    }
    // A FIN ends a close-delimited body cleanly; an error never does (a reset may have cut it anywhere).
    if (event.kind === 'end' && reader.end() === 'complete') return result(false);
    const err = event.kind === 'error' ? event.err : undefined;
    return decoded(decoding, result(false, connectionEnded('body', err, since(limits.writtenAt), framing)));
  }
}

/** Stops the decoder once the reading is over another way; `body` as it is. */
function decoded(decoding: BodyDecoding | undefined, body: BodyResult): BodyResult {
  decoding?.destroy();
  return body;
}
