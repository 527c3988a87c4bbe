import type { CompressionConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { withVary } from '../forward/coded-fields.ts';
import { partForCodedCopy } from '../forward/content-coding.ts';
import type { AnswerOut, StageAnswer } from '../stages/stage.ts';
import type { DeliveredTo } from './delivery.ts';
import type { FillStream, StreamEvent } from './fill-stream.ts';
import { type RangePart, rangeOf } from './stored-range.ts';

/**
 * A Range waiting on its key's fill (cache-run.ts) is answered from the whole answer as it
 * streams in (fill-stream.ts), as nginx's proxy_cache answers it: its 206 head as soon as the
 * fill's head says the answer will be kept and how long it is, then its bytes as they come; a
 * 416 at once when the length shows nothing of it is there. Undefined: it waits for the whole
 * answer to be stored, as before (one the store would answer otherwise: the whole 200 several
 * ranges or a failed If-Range get, a 304 or a 412 to its preconditions, the whole answer
 * compressed for a client that would splice a part into a compressed copy).
 */
export function followedPart(
  asked: DeliveredTo,
  compression: CompressionConfig | undefined,
  stream: FillStream,
): StageAnswer | undefined {
  const { head, fields } = asked;
  if (head.method !== 'GET' || asked.background) return undefined;
  // Preconditions the stored answer meets (delivery.ts) are judged on it whole, as they were.
  for (const name of ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since'])
    if (fields[name] !== undefined) return undefined;
  const kept = stream.fields();
  if (compression !== undefined && partForCodedCopy(head.headers, 200, kept, compression)) return undefined;
  const part = rangeOf(fields, kept, stream.length);
  if (part === undefined) return undefined;
  return { send: (out) => sendFollowed(out, compression, stream, part) };
}

function sendFollowed(
  out: AnswerOut,
  compression: CompressionConfig | undefined,
  stream: FillStream,
  part: RangePart,
): void {
  const { sink } = out;
  out.responded(part.status);
  const headers = out.head(part.fields, stream.head.version, undefined);
  try {
    // A 206 is never compressed; Vary says so, as of the route's every answer (delivery.ts).
    sink.sendHead(
      part.status,
      part.reason,
      compression === undefined ? headers : withVary(headers),
      out.close,
    );
  } catch (err) {
    if (err instanceof Failure) return out.refused(err);
    throw err;
  }
  if (part.last < part.first) return sink.end();
  new Follower(out, stream, part.first, part.last).pump();
}

/**
 * Writes a part's bytes to its client as the fill brings them, as fast as the client takes them
 * (they are held by the fill's copy meanwhile, never copied again); the fill cut short before the
 * part is whole cuts the client's answer, never ends it short.
 */
class Follower {
  readonly #out: AnswerOut;
  readonly #stream: FillStream;
  /** The next byte of the body to write. */
  #at: number;
  readonly #last: number;
  #draining = false;
  readonly #heard = (event: StreamEvent) => this.#hear(event);

  constructor(out: AnswerOut, stream: FillStream, first: number, last: number) {
    this.#out = out;
    this.#stream = stream;
    this.#at = first;
    this.#last = last;
    stream.follow(this.#heard);
    out.sink.onClose(() => stream.unfollow(this.#heard));
  }

  #hear(event: StreamEvent): void {
    if (typeof event === 'object') {
      if (this.#at <= this.#last && this.#stream.size <= this.#last) this.#cut(event.cut);
      return;
    }
    if (!this.#draining) this.pump();
  }

  pump(): void {
    const { sink } = this.#out;
    this.#draining = false;
    if (sink.closed) return this.#stream.unfollow(this.#heard);
    for (const bytes of this.#stream.bytes(this.#at, this.#last)) {
      this.#at += bytes.length;
      if (!sink.write(bytes)) {
        this.#draining = true;
        sink.onDrain(() => this.pump());
        return;
      }
    }
    if (this.#at > this.#last) {
      this.#stream.unfollow(this.#heard);
      return sink.end();
    }
    const ended = this.#stream.ended;
    if (typeof ended === 'object') this.#cut(ended.cut);
  }

  #cut(why: string): void {
    this.#stream.unfollow(this.#heard);
    if (this.#out.sink.closed) return;
    const details = `the whole answer this Range was given a part of as it came stopped short: ${why}`;
    this.#out.cut(new Failure('http_response_incomplete', details));
  }
}
