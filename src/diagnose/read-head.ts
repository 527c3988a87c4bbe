/**
 * Hop 4, the response head, read from the raw bytes: interim 1xx heads skipped, the final
 * head parsed strictly, and anything that is not HTTP collected a little longer so it can
 * be named. Each way it can go wrong is the Failure the gateway would record.
 */
import { classifyExchangeError } from '../failure/classify.ts';
import { Failure } from '../failure/failure.ts';
import { UPSTREAM_MAX_HEADER_SIZE } from '../forward/upstream.ts';
import { type ResponseHead, scanHead } from './http-head.ts';
import { type Identification, identify, printable } from './identify.ts';
import { formatMs, since } from './plan.ts';
import type { SocketFeed } from './socket-feed.ts';

export interface HeadResult {
  readonly head?: ResponseHead;
  readonly headBytes?: number;
  /** Bytes after the head (the start of the body). */
  readonly rest: Buffer;
  readonly informational: readonly number[];
  readonly ttfbMs?: number;
  readonly failure?: Failure;
  /** Bytes received when the head failed (up to 4 KiB). */
  readonly received: Buffer;
  readonly identification?: Identification;
  /** The offending line of an invalid head. */
  readonly badLine?: string;
  /** The longest line of a head over the size limit. */
  readonly largestField?: { readonly name: string; readonly bytes: number };
}

/** How long to keep listening after bytes that are not HTTP, to see enough of them to name. */
const GARBAGE_QUIET_MS = 150;
const GARBAGE_KEEP = 4096;

export async function readHead(feed: SocketFeed, writtenAt: number, timeoutMs: number): Promise<HeadResult> {
  const informational: number[] = [];
  let buffer: Buffer = Buffer.alloc(0);
  let firstAt: number | undefined;
  const stage = { stage: 'sent' } as const;
  const failed = (failure: Failure, extra: Partial<HeadResult> = {}): HeadResult => ({
    failure,
    rest: Buffer.alloc(0),
    informational,
    received: buffer.subarray(0, GARBAGE_KEEP),
    ttfbMs: firstAt === undefined ? undefined : Math.round((firstAt - writtenAt) * 10) / 10,
    ...extra,
  });
  for (;;) {
    const event = await feed.next(writtenAt + timeoutMs - performance.now());
    const after = `after ${formatMs(since(writtenAt))}`;
    if (event.kind === 'timeout') {
      const what =
        buffer.length === 0 ? 'no response head' : `response head incomplete (${buffer.length} bytes)`;
      return failed(new Failure('http_response_timeout', `${what} ${after}`, stage));
    }
    if (event.kind === 'end') {
      const where = buffer.length === 0 ? 'before the response head' : 'in the middle of the response head';
      return failed(
        new Failure('connection_terminated', `connection closed by the upstream ${where} ${after}`, stage),
      );
    }
    if (event.kind === 'error') return failed(classifyExchangeError(event.err, 'sent', since(writtenAt)));
    firstAt ??= event.at;
    buffer = buffer.length === 0 ? event.chunk : Buffer.concat([buffer, event.chunk]);
    for (;;) {
      const scan = scanHead(buffer);
      if (scan.kind === 'incomplete') break;
      if (scan.kind === 'not-http') {
        buffer = await collectMore(feed, buffer);
        const identification = identify(buffer);
        const details = `invalid response: not HTTP/1.x (${identification.what})`;
        return failed(new Failure('http_protocol_error', details, stage), { identification });
      }
      if (scan.kind === 'too-large') {
        const details = `response header section over the limit (${UPSTREAM_MAX_HEADER_SIZE} bytes)`;
        return failed(new Failure('http_response_header_section_size', details, stage), {
          largestField: largestField(buffer),
        });
      }
      if (scan.kind === 'invalid') {
        const identification = {
          what: 'an HTTP server with an invalid response head',
          evidence: printable(Buffer.from(scan.line, 'latin1')),
        };
        return failed(new Failure('http_protocol_error', `invalid response: ${scan.reason}`, stage), {
          identification,
          badLine: scan.line,
        });
      }
      const { head, size } = scan;
      if (head.status >= 100 && head.status < 200 && head.status !== 101) {
        informational.push(head.status);
        buffer = buffer.subarray(size);
        if (buffer.length === 0) break;
        continue;
      }
      if (head.status === 101)
        return failed(
          new Failure(
            'http_protocol_error',
            'invalid response: 101 Switching Protocols to a request that asked for no upgrade',
            stage,
          ),
        );
      return {
        head,
        headBytes: size,
        rest: buffer.subarray(size),
        informational,
        received: Buffer.alloc(0),
        ttfbMs: Math.round(((firstAt ?? event.at) - writtenAt) * 10) / 10,
      };
    }
  }
}

/** Keeps reading until the peer stops talking (closes, or a short quiet), to identify what it is. */
async function collectMore(feed: SocketFeed, buffer: Buffer): Promise<Buffer> {
  let collected = buffer;
  while (collected.length < GARBAGE_KEEP) {
    const event = await feed.next(GARBAGE_QUIET_MS);
    if (event.kind !== 'data') break;
    collected = Buffer.concat([collected, event.chunk]);
  }
  return collected;
}

function largestField(buffer: Buffer): { name: string; bytes: number } | undefined {
  let best: { name: string; bytes: number } | undefined;
  let start = buffer.indexOf(0x0a) + 1;
  while (start > 0 && start < buffer.length) {
    const lf = buffer.indexOf(0x0a, start);
    const end = lf === -1 ? buffer.length : lf;
    if (best === undefined || end - start > best.bytes) {
      const colon = buffer.indexOf(0x3a, start);
      const name = colon === -1 || colon > end ? '(no name)' : buffer.toString('latin1', start, colon);
      best = { name, bytes: end - start };
    }
    start = lf === -1 ? -1 : lf + 1;
  }
  return best;
}
