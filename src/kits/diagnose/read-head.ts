/**
 * Hop 4, the response head, read from the raw socket by the gateway's parser (interim 1xx
 * heads skipped), timed from the request written. When the parser refuses the bytes, what
 * arrived is kept to be shown: bytes that are not HTTP are collected a little longer so they
 * can be named, an invalid head's offending line is found, a head refused for its framing is
 * still shown whole.
 */
import type { HeadClockName } from '../../core/config/upstream-config.ts';
import { Failure } from '../../core/failure/failure.ts';
import { type Identification, identify, printableBytes } from '../../core/http1/impostors.ts';
import type { AnswerHead } from '../../core/http1/parsed-answer.ts';
import { noHeadDetails } from '../../upstream/connections/exchange-timers.ts';
import { connectionEnded } from '../../upstream/connections/http1/connection-ended.ts';
import { AnswerReader } from './answer-reader.ts';
import { formatMs, since } from './plan.ts';
import { largestField, offendingLine, readAsBodiless } from './refused-head.ts';
import type { SocketFeed } from './socket-feed.ts';

interface HeadResult {
  /** The parser, to read the body on with (it may already hold some of it, all of it, or its failure). */
  readonly reader: AnswerReader;
  /** The final head: accepted, or with a failure, refused only for its body framing. */
  readonly head?: AnswerHead;
  readonly statusLine?: string;
  readonly headBytes?: number;
  readonly informational: readonly number[];
  readonly ttfbMs?: number;
  readonly failure?: Failure;
  /** Bytes received when the head failed (up to 4 KiB). */
  readonly received: Buffer;
  readonly identification?: Identification;
  /** The offending line of an invalid head. */
  readonly badLine?: string;
  /** The longest line of a head over the size limit. */
  readonly largestField?: { readonly name: string; readonly bytes: number; readonly cut?: true };
}

/** How long to keep listening after bytes that are not HTTP, to see enough of them to name. */
const GARBAGE_QUIET_MS = 150;
const GARBAGE_KEEP = 4096;
const HTTP_SLASH = Buffer.from('HTTP/', 'latin1');

/** The wait for the head: its length, and which of the gateway's settings it stands for. */
interface HeadClock {
  readonly ms: number;
  readonly name: HeadClockName;
}

export async function readHead(
  feed: SocketFeed,
  method: string,
  writtenAt: number,
  clock: HeadClock,
): Promise<HeadResult> {
  const timeoutMs = clock.ms;
  const reader = new AnswerReader(method);
  let firstAt: number | undefined;
  const stage = { stage: 'sent' } as const;
  const result = (extra: Partial<HeadResult>): HeadResult => ({
    reader,
    informational: reader.informational,
    received: Buffer.alloc(0),
    ttfbMs: firstAt === undefined ? undefined : Math.round((firstAt - writtenAt) * 10) / 10,
    ...extra,
  });
  // Failures before the head went downstream are at the gateway's 'sent' stage: it still answers with its own status.
  const failed = (failure: Failure, extra: Partial<HeadResult> = {}): HeadResult =>
    result({ failure: failure.at('sent'), received: reader.received.subarray(0, GARBAGE_KEEP), ...extra });
  for (;;) {
    const event = await feed.next(writtenAt + timeoutMs - performance.now());
    if (event.kind === 'timeout') {
      // In the gateway's words (exchange-timers.ts): interim answers that came say the upstream
      // is alive, stuck in its handler, not silent. `received` holds no interim head's bytes.
      const so = { interim: reader.interim.count, partial: reader.received.length };
      const details = noHeadDetails(
        `(${clock.name} of ${timeoutMs} ms) after ${formatMs(since(writtenAt))}`,
        so,
      );
      return failed(new Failure('http_response_timeout', details, stage));
    }
    if (event.kind !== 'data') {
      const err = event.kind === 'error' ? event.err : undefined;
      return failed(connectionEnded(reader.started ? 'head' : 'idle', err, since(writtenAt)));
    }
    firstAt ??= event.at;
    const failure = reader.feed(event.chunk);
    // A failure after the head is the body's: the head went downstream, the body step reports it.
    if (reader.head)
      return result({ head: reader.head, statusLine: reader.statusLine, headBytes: reader.headBytes });
    if (failure) return refused(failure, reader, feed, method, failed);
  }
}

/** What to show of a refused head, beside the parser's own failure. */
async function refused(
  failure: Failure,
  reader: AnswerReader,
  feed: SocketFeed,
  method: string,
  failed: (failure: Failure, extra?: Partial<HeadResult>) => HeadResult,
): Promise<HeadResult> {
  const received = reader.received;
  if (failure.type === 'http_response_header_section_size')
    return failed(failure, { largestField: largestField(received) });
  const prefix = Math.min(received.length, HTTP_SLASH.length);
  if (received.compare(HTTP_SLASH, 0, prefix, 0, prefix) !== 0) {
    // Not even the start of a status line: another protocol, or an app writing to the socket. Named, not quoted.
    const bytes = await collectMore(feed, received);
    const identification = identify(bytes);
    const details = `invalid response: not HTTP/1.x (${identification.what})`;
    return failed(new Failure(failure.type, details), {
      identification,
      received: bytes.subarray(0, GARBAGE_KEEP),
    });
  }
  const bodiless = readAsBodiless(received);
  if (bodiless)
    return failed(failure, {
      head: bodiless.head,
      statusLine: bodiless.statusLine,
      headBytes: bodiless.headBytes,
    });
  const badLine = offendingLine(received, failure, method);
  const evidence = printableBytes(badLine === undefined ? received : Buffer.from(badLine, 'latin1'));
  return failed(failure, {
    identification: { what: 'an HTTP server with an invalid response head', evidence },
    badLine,
  });
}

/** Keeps reading until the peer stops talking (closes, or a short quiet), to identify what it is. */
async function collectMore(feed: SocketFeed, received: Buffer): Promise<Buffer> {
  let collected = received;
  while (collected.length < GARBAGE_KEEP) {
    const event = await feed.next(GARBAGE_QUIET_MS);
    if (event.kind !== 'data') break;
    collected = Buffer.concat([collected, event.chunk]);
  }
  return collected;
}
