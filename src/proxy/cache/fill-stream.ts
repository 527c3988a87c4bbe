import type CachePolicy from 'http-cache-semantics';
import { firstField } from '../../core/net/downstream.ts';
import type { BodyCopy, RelayedHead } from '../stages/stage.ts';
import type { CacheGrants } from './freshness.ts';
import { StoredAnswer } from './stored-answer.ts';

/** What a follower of a streaming fill hears: more bytes came, the body is whole, or it was cut (and why). */
export type StreamEvent = 'more' | 'whole' | { readonly cut: string };

/**
 * The whole answer a Range's fill (cache-run.ts) is storing, as it streams in, for the Range
 * requests waiting on it: nginx's proxy_cache answers a range of an answer it is still caching
 * from what has come, not once it is all in. Made at the fill's head, once that says the answer
 * will be kept and how long it is (Content-Length): `head` is the answer as it will be stored,
 * without its body (its fields, Age, ttl). The bytes are the copy's own chunks (body-copy.ts),
 * held by reference: a follower costs no copy of them.
 */
export class FillStream {
  readonly head: StoredAnswer;
  readonly length: number;
  readonly #chunks: Buffer[] = [];
  /** Bytes come so far. */
  #size = 0;
  #ended: Exclude<StreamEvent, 'more'> | undefined;
  readonly #followers = new Set<(event: StreamEvent) => void>();

  constructor(head: StoredAnswer, length: number) {
    this.head = head;
    this.length = length;
  }

  /** The fields the answer will be stored with: its length the whole body's, not the bodiless head's. */
  fields(): string[] {
    const out: string[] = [];
    const fields = this.head.fields();
    for (let i = 0; i < fields.length; i += 2)
      if (fields[i] !== 'content-length') out.push(fields[i], fields[i + 1]);
    out.push('content-length', String(this.length));
    return out;
  }

  get size(): number {
    return this.#size;
  }

  /** How it ended: whole, cut; undefined while it streams. */
  get ended(): Exclude<StreamEvent, 'more'> | undefined {
    return this.#ended;
  }

  /** The bytes from `from` (an offset in the body) to at most `to` (inclusive) that have come, as views of the chunks. */
  bytes(from: number, to: number): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    for (const chunk of this.#chunks) {
      const end = at + chunk.length;
      if (end > from && at <= to)
        out.push(chunk.subarray(Math.max(0, from - at), Math.min(chunk.length, to - at + 1)));
      at = end;
      if (at > to) break;
    }
    return out;
  }

  follow(listener: (event: StreamEvent) => void): void {
    this.#followers.add(listener);
  }

  unfollow(listener: (event: StreamEvent) => void): void {
    this.#followers.delete(listener);
  }

  add(chunk: Buffer): void {
    if (this.#ended !== undefined) return;
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    this.#tell('more');
  }

  /**
   * The body came whole, as `body` (the copy the store keeps): followers finish from it, so a slow
   * client's part holds the stored body, not the chunks it was made of as well. Without one (read
   * off another worker's fill: fill-file.ts), from the chunks.
   */
  whole(body?: Buffer): void {
    if (this.#ended !== undefined) return;
    if (body?.length === this.#size) this.#chunks.splice(0, this.#chunks.length, body);
    this.#end('whole');
  }

  /** The fill stopped short (its upstream failed, its copy was dropped): every follower's answer is cut. */
  cut(why: string): void {
    this.#end({ cut: why });
  }

  #end(how: Exclude<StreamEvent, 'more'>): void {
    if (this.#ended !== undefined) return;
    this.#ended = how;
    this.#tell(how);
    this.#followers.clear();
  }

  #tell(event: StreamEvent): void {
    for (const listener of [...this.#followers]) listener(event);
  }
}

/**
 * The stream of a Range's fill whose 200 will be kept (`policy`), told to its Fill's waiters; none
 * without a Content-Length (a chunked body's length is known only at its end: the Ranges wait
 * for the whole answer then, as before) or a fill no longer under way.
 */
export function streamOf(
  fill: { streams(stream: FillStream): void } | undefined,
  key: string,
  policy: CachePolicy,
  head: RelayedHead,
  grants: CacheGrants,
): FillStream | undefined {
  const length = firstField(head.fields, 'content-length');
  if (fill === undefined || head.status !== 200 || length === undefined || !/^\d+$/.test(length.trim()))
    return undefined;
  const { status, reason, version } = head;
  const stream = new FillStream(
    new StoredAnswer(key, policy, status, reason, Buffer.alloc(0), grants, version),
    Number(length),
  );
  fill.streams(stream);
  return stream;
}

/** `copy`, whose chunks `stream` holds too (its end, with the whole body, is the copy's: cache-run.ts). */
export function streamedCopy(copy: BodyCopy, stream: FillStream): BodyCopy {
  return {
    add: (chunk) => {
      stream.add(chunk);
      copy.add(chunk);
    },
    end: () => copy.end(),
  };
}
