/**
 * A response sink that compresses (routes[].compression): it stands between the exchange and
 * the client's sink, HTTP/1.1 or HTTP/2 alike, and decides at the head (content-coding.ts).
 * A response it does not compress passes through untouched, with `Vary: Accept-Encoding`.
 *
 * A response without Content-Length is held (head and body, at most `min_size` bytes) until it
 * reaches `min_size`, then compressed, or ends under it, then sent as it is. It is held no
 * longer than the turn its head came in: still under `min_size` at the turn's end, the response
 * goes as it is (a stream of small lines is not kept waiting for the bytes that would decide);
 * a head that came alone goes compressed (it is not kept waiting for its body either).
 *
 * Streaming and bounded: each chunk goes through node:zlib as it comes, and what came in a turn
 * is flushed at its end (a sync flush: the compressor keeps its window), so a server-sent event
 * or a line of a stream reaches the client when the upstream sent it, not once the compressor's
 * buffers fill (kilobytes of output: megabytes of text). The compressor's output waits for the
 * client (the compressor pauses), and its input is bounded by the stream's high-water mark:
 * `write` says false past it, as the client's sink would.
 *
 * On an HTTP/2 connection each compressor counts against the connection's budget
 * (`limits.http2.connection_buffer`, buffer-budget.ts) while it lives, as what waits for the
 * client does: a response whose compressor the budget has no room for goes as it is (identity,
 * its own Content-Length, ETag and digests, with `Vary: Accept-Encoding`, which is true of it),
 * so one connection's streams hold at most its budget in compressors, not one each.
 *
 * An upstream body cut short is never finished as a valid compressed stream: `abort` throws
 * the compressor away unfinished (no final block, no checksum) and aborts the client's sink;
 * cut while held, the head and what came of the body go out as they are before the cut.
 */
import type { CompressionConfig, ContentCoding } from '../../core/config/types.ts';
import type { BufferBudget } from '../../core/net/buffer-budget.ts';
import type { AnswerSink, DownstreamHead } from '../../core/net/downstream.ts';
import { atTurnEnd } from '../../core/net/turn-end.ts';
import {
  codedNotModified,
  compressedFields,
  hasField,
  isEventStream,
  withoutDigests,
  withVary,
} from './coded-fields.ts';
import { COMPRESSOR_BYTES, type Compressor, compressorFor, FLUSH } from './compressors.ts';
import { clientTag, codingFacts, codingFor, weakNotModified } from './content-coding.ts';
import { PassingSink } from './passing-sink.ts';

/** What the log line says of a compressed response (the request record's fields). */
export interface CompressionRecord {
  encoding: string | undefined;
  bytesBeforeEncoding: number;
  bytesAfterEncoding: number;
}

export class CompressingSink extends PassingSink {
  readonly #config: CompressionConfig;
  #request: DownstreamHead;
  readonly #record: CompressionRecord;
  /** The client connection's budget (HTTP/2), which the compressor counts against; none for HTTP/1.1. */
  readonly #budget: BufferBudget | undefined;
  /** Bytes the compressor counts against the budget now (0 once given back). */
  #charged = 0;
  #compressor: Compressor | undefined;
  #flushKind = 0;
  /** The turn's end is due: a flush, or a held body's release (one a turn, whatever the chunks). */
  #turnDue = false;
  /**
   * A response without Content-Length, held (head and body) until it reaches `min_size`, when
   * it is compressed, or ends under it, when it goes out as it is. Bounded by `min_size`.
   */
  #held: PendingHead | undefined;

  constructor(
    inner: AnswerSink,
    config: CompressionConfig,
    request: DownstreamHead,
    record: CompressionRecord,
    budget?: BufferBudget,
  ) {
    super(inner);
    this.#config = config;
    this.#request = request;
    this.#record = record;
    this.#budget = budget;
  }

  /** The answer is judged as one to `request`, its Range dropped: a resume's whole 200 (compression-stage.ts). */
  judgeAs(request: DownstreamHead): void {
    this.#request = request;
  }

  get headSent(): boolean {
    return this.#held !== undefined || this.inner.headSent;
  }
  /** A head held here goes to the inner sink with the end, which sends both at once too. */
  get headPending(): boolean {
    return this.#held !== undefined || this.inner.headPending === true;
  }
  /**
   * Nothing held or compressed: what was written went to the client's sink as it was, so its
   * end may still be written there (a gRPC cut's trailers, exchange.ts).
   */
  get passingThrough(): boolean {
    return this.#compressor === undefined && this.#held === undefined;
  }
  get recoded(): boolean {
    return !this.passingThrough;
  }
  get pendingBytes(): number {
    return this.inner.pendingBytes + (this.#compressor?.writableLength ?? this.#held?.bytes ?? 0);
  }
  sendHead(status: number, reason: string, headers: readonly string[], close?: boolean): void {
    const request = this.#request;
    const facts = codingFacts(request, status, headers);
    const coding = codingFor(facts, request.headers, this.#config);
    if (coding === undefined) {
      const weak = weakNotModified(facts, request.headers, this.#config);
      this.inner.sendHead(status, reason, withVary(weak ? codedNotModified(headers) : headers), close);
      return;
    }
    // A HEAD's answer has the fields its GET's would have (RFC 9110 §9.3.2): a cache freshens
    // its stored compressed answer from it by the validator (RFC 9111 §4.3.5), and a strong ETag
    // or a Content-Length it never had would not match. One under min_size by its Content-Length
    // was judged above, as its GET is; one without (Node's http sends none on a HEAD, whatever its
    // GET's) is a head that came alone, which a GET's goes compressed as. No body, so no
    // compressor, and nothing logged.
    if (request.method === 'HEAD') {
      this.inner.sendHead(status, reason, withVary(compressedFields(headers, coding)), close);
      return;
    }
    const head: PendingHead = { status, reason, headers, close, coding, chunks: [], bytes: 0 };
    // Server-sent events go at once: an event must not wait for the next ones.
    if (!hasField(headers, 'content-length') && !isEventStream(headers) && this.#config.minSize > 0) {
      if (this.#refusesPending(head)) return;
      this.#held = head;
      // Held no longer than its turn either: a head sent ahead of its body (a long poll's, a
      // stream's) is not kept from the client until the body comes.
      this.#atTurnEnd();
      return;
    }
    this.#compress(head);
  }

  /**
   * Sends a 304 the gateway makes itself for a stored 200 whose fields are `ok` (the cache's
   * answer to a client's conditional): its ETag is weak when that 200 would have gone
   * compressed to this client, as the 200's own was (RFC 9110 §15.4.5), or when the client holds
   * it weak (a compressed copy's, which a strong tag would be taken for: weakNotModified). The
   * 304's own fields carry no Content-Type or Content-Length to judge by, as an upstream's 304 may.
   */
  sendNotModified(ok: readonly string[], headers: readonly string[], close?: boolean): void {
    const requestHeaders = this.#request.headers;
    const compressed =
      clientTag(requestHeaders, headers) === 'weak' ||
      codingFor(codingFacts(this.#request, 200, ok), requestHeaders, this.#config) !== undefined;
    const fields = compressed ? codedNotModified(headers) : headers;
    this.inner.sendHead(304, 'Not Modified', withVary(fields), close);
  }

  /**
   * A head to hold goes after the exchange has moved past it: whether the client's sink takes it
   * (an HTTP/2 client's header list size) is asked now, as either head it may go as, while a
   * refusal can still be the gateway's answer, not a bare reset logged as a 200. True when one is
   * refused and the head went now as the other (or threw, when neither goes).
   */
  #refusesPending(head: PendingHead): boolean {
    const inner = this.inner;
    if (inner.headRefusal === undefined) return false;
    const { status, reason, headers, close } = head;
    if (inner.headRefusal(status, withVary(compressedFields(headers, head.coding))) !== undefined) {
      inner.sendHead(status, reason, withVary(headers), close);
      return true;
    }
    if (inner.headRefusal(status, withVary(headers)) === undefined) return false;
    this.#compress(head);
    return true;
  }

  /**
   * Sends a held head. The client's sink refuses a field the parser let through by throwing
   * (exchange.ts catches it at the head); here the head is already the exchange's past, so the
   * transfer is cut instead, as a failure after the head is. False when it was.
   */
  #sendPending(send: () => void): boolean {
    try {
      send();
      return true;
    } catch {
      this.inner.abort();
      return false;
    }
  }

  /** Sends the held head and body as they are (false: the head was refused, the transfer cut). */
  #release(): boolean {
    const held = this.#held as PendingHead;
    this.#held = undefined;
    const send = () => this.inner.sendHead(held.status, held.reason, withVary(held.headers), held.close);
    if (!this.#sendPending(send)) return false;
    for (const piece of held.chunks) this.inner.write(piece);
    return true;
  }

  /**
   * Sends the compressed head and starts the compressor; or, when the connection's budget has no
   * room left for one, the head as it is, and the body passes through.
   */
  #compress(head: PendingHead): void {
    const { status, reason, headers, close, coding } = head;
    const cost = COMPRESSOR_BYTES[coding];
    const budget = this.#budget;
    if (budget !== undefined && budget.room < cost) {
      this.inner.sendHead(status, reason, withVary(headers), close);
      return;
    }
    this.inner.sendHead(status, reason, withVary(compressedFields(headers, coding)), close);
    this.#record.encoding = coding;
    this.#flushKind = FLUSH[coding];
    const compressor = compressorFor(coding);
    this.#compressor = compressor;
    if (budget !== undefined) {
      budget.add(cost);
      this.#charged = cost;
      // Ended or destroyed, whichever way: its memory is given back with its handle.
      compressor.once('close', () => this.#giveBack());
    }
    compressor.on('data', (chunk: Buffer) => {
      this.#record.bytesAfterEncoding += chunk.length;
      if (!this.inner.write(chunk) && !compressor.isPaused()) {
        compressor.pause();
        this.inner.onDrain(() => compressor.resume());
      }
    });
    // A compressor fails only on a bug (its input is any bytes): the transfer is cut, not finished.
    compressor.on('error', () => this.abort());
    // The client left: nothing more to compress.
    this.inner.onClose((finished) => {
      if (!finished) compressor.destroy();
    });
  }

  write(chunk: Buffer): boolean {
    const held = this.#held;
    if (held !== undefined) {
      held.chunks.push(chunk);
      held.bytes += chunk.length;
      if (held.bytes < this.#config.minSize) {
        this.#atTurnEnd();
        return true;
      }
      // Large enough: compressed from its first byte.
      this.#held = undefined;
      if (!this.#sendPending(() => this.#compress(held))) return true;
      let room = true;
      for (const piece of held.chunks) room = this.write(piece);
      return room;
    }
    const compressor = this.#compressor;
    if (compressor === undefined) return this.inner.write(chunk);
    this.#record.bytesBeforeEncoding += chunk.length;
    const room = compressor.write(chunk);
    this.#atTurnEnd();
    return room;
  }

  #atTurnEnd(): void {
    if (this.#turnDue) return;
    this.#turnDue = true;
    atTurnEnd(turnEnded, this);
  }

  /**
   * The turn's input is in: what the compressor made of it goes out now (after end() the final
   * block does it); a head still held goes: as it is with its body under min_size, the rest
   * after it; compressed when it came alone.
   */
  turnEnded(): void {
    this.#turnDue = false;
    const held = this.#held;
    if (held !== undefined) {
      if (held.bytes > 0) {
        this.#release();
        return;
      }
      // The head alone (its upstream wrote it apart from the body, or holds the body back, as a
      // long poll does): compressed from its first byte, as nginx compresses a body of unknown
      // length, and the head goes now; waiting for the body would keep it from the client.
      this.#held = undefined;
      this.#sendPending(() => this.#compress(held));
      return;
    }
    const compressor = this.#compressor;
    if (compressor !== undefined && !compressor.destroyed && !compressor.writableEnded)
      compressor.flush(this.#flushKind);
  }

  onDrain(callback: () => void): void {
    const compressor = this.#compressor;
    if (compressor === undefined) this.inner.onDrain(callback);
    else compressor.once('drain', callback);
  }

  end(trailers?: readonly string[]): void {
    if (this.#held !== undefined) {
      // It ended under min_size: as it is.
      if (!this.#release()) return;
      return this.inner.end(trailers);
    }
    const compressor = this.#compressor;
    if (compressor === undefined) return this.inner.end(trailers);
    // The final block once everything before it has gone out (the compressor's 'end'). A digest
    // in the trailers is of the identity bytes, as one in the head (RFC 9530 §2 allows either).
    const kept = trailers === undefined ? undefined : withoutDigests(trailers);
    compressor.once('end', () => {
      // Its last block is out: the next stream of the connection may have its room now.
      this.#giveBack();
      this.inner.end(kept);
    });
    compressor.end();
  }

  /** The compressor no longer counts against the connection's budget. */
  #giveBack(): void {
    this.#budget?.add(-this.#charged);
    this.#charged = 0;
  }

  abort(): void {
    // Cut while the head was held (under min_size, nothing compressed yet): the head and the
    // bytes that came go out as they are, then the cut, exactly as without compression. A
    // connection closed before any head would read as a gateway fault, and an idle keep-alive
    // connection's close invites the client to send the request again. A head the client's
    // sink refused: #sendPending has cut the transfer already.
    if (this.#held !== undefined && !this.#release()) return;
    // Destroyed, never ended: what went out is a stream without its end, as the client must see.
    this.#compressor?.destroy();
    this.inner.abort();
  }
}

function turnEnded(sink: CompressingSink): void {
  sink.turnEnded();
}

interface PendingHead {
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly string[];
  readonly close: boolean | undefined;
  readonly coding: ContentCoding;
  readonly chunks: Buffer[];
  bytes: number;
}
