/**
 * Hop 5, the body, read to its end by its framing, up to a size cap (reaching the cap stops
 * the reading; it is not an error). A cut, a stall or broken chunks are the Failures the
 * gateway logs once the head has gone downstream.
 */
import { classifyExchangeError } from '../failure/classify.ts';
import { Failure } from '../failure/failure.ts';
import { ChunkedDecoder } from './chunked.ts';
import type { Framing } from './framing.ts';
import { formatMs, since } from './plan.ts';
import type { SocketFeed } from './socket-feed.ts';
import type { BodyFraming } from './types.ts';

export interface BodyResult {
  readonly framing: BodyFraming;
  readonly bytes: number;
  readonly expected?: number;
  readonly complete: boolean;
  readonly capped: boolean;
  readonly ms: number;
  /** The first bytes of the body (up to 64 KiB), to recognise a portal page. */
  readonly sniff: Buffer;
  readonly failure?: Failure;
}

const SNIFF = 64 * 1024;

export async function readBody(
  feed: SocketFeed,
  rest: Buffer,
  framing: Framing & { kind: BodyFraming },
  limits: { readonly readTimeout: number; readonly maxBody: number },
): Promise<BodyResult> {
  const started = performance.now();
  const kind = framing.kind;
  const expected = framing.length;
  const chunked = kind === 'chunked' ? new ChunkedDecoder() : undefined;
  const sniffed: Buffer[] = [];
  let sniffedBytes = 0;
  let bytes = 0;
  const keep = (data: Buffer) => {
    if (sniffedBytes >= SNIFF || data.length === 0) return;
    sniffed.push(data.subarray(0, SNIFF - sniffedBytes));
    sniffedBytes += Math.min(data.length, SNIFF - sniffedBytes);
  };
  const result = (complete: boolean, capped: boolean, failure?: Failure): BodyResult => ({
    framing: kind,
    bytes,
    expected,
    complete,
    capped,
    ms: since(started),
    sniff: Buffer.concat(sniffed),
    failure,
  });
  const stage = { stage: 'body_streaming' } as const;
  const cut = (how: string) =>
    new Failure(
      'http_response_incomplete',
      `response body cut short: ${how} after ${formatMs(since(started))}`,
      stage,
    );

  /** Takes one piece of the body; true once the framing says the body is whole. */
  const take = (chunk: Buffer): boolean => {
    if (chunked) {
      for (const data of chunked.push(chunk)) keep(data);
      bytes = chunked.bytes;
      return chunked.state === 'done';
    }
    const data = expected === undefined ? chunk : chunk.subarray(0, expected - bytes);
    keep(data);
    bytes += data.length;
    return expected !== undefined && bytes >= expected;
  };

  if (kind === 'none') return result(true, false);
  if (expected === 0) return result(true, false);
  let chunk: Buffer | undefined = rest.length > 0 ? rest : undefined;
  for (;;) {
    if (chunk) {
      const whole = take(chunk);
      if (chunked?.error)
        return result(
          false,
          false,
          new Failure('http_response_transfer_coding', `invalid response: ${chunked.error}`, stage),
        );
      if (whole) return result(true, false);
      if (bytes > limits.maxBody) return result(false, true);
    }
    const event = await feed.next(limits.readTimeout);
    chunk = undefined;
    if (event.kind === 'data') chunk = event.chunk;
    else if (event.kind === 'timeout') {
      const details = `response body stalled: nothing for ${limits.readTimeout} ms (read timeout) after ${bytes} bytes`;
      return result(false, false, new Failure('connection_read_timeout', details, stage));
    } else if (event.kind === 'end') {
      if (kind === 'close-delimited') return result(true, false);
      return result(false, false, cut('connection closed by the upstream'));
    } else {
      // A close-delimited body ended by a reset may be cut short: it is not a clean end.
      const failure = classifyExchangeError(event.err, 'body_streaming', since(started));
      return result(
        false,
        false,
        failure.type === 'http_response_incomplete' ? failure : cut(event.err.code ?? 'error'),
      );
    }
  }
}
