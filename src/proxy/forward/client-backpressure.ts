/**
 * The core's backpressure: a response's way to a client that does not keep up with its upstream,
 * which every response may need. What the client has not taken is held for it up to the route's
 * buffer (so a response that fits is taken whole and its connection freed at once) and counted
 * against its connection's budget and the process's `limits.buffer_total`; past that, the rest
 * goes through an overflow when the gateway has one (answer-overflow.ts: the spool's disk) so
 * the upstream need not wait for this client, or the upstream is paused until the client drains.
 * The sink's send deadline cuts a client that takes nothing. Made by the exchange the first time
 * a write is left waiting: most responses never are, and pay nothing of this.
 */
import { Failure, sendTimeoutFailure } from '../../core/failure/failure.ts';
import type { BufferBudget } from '../../core/net/buffer-budget.ts';
import type { AnswerSink } from '../../core/net/downstream.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { ExchangeController } from '../../upstream/connections/exchange-contract.ts';
import type { AnswerOverflow, OverflowedAnswer, OverflowOutlet } from './answer-overflow.ts';
import type { ReaderMemory } from './reader-memory.ts';

/**
 * Response writes held for a client that is not keeping up before the upstream is paused, at
 * most, whatever their size (each is a buffer and its bookkeeping in the socket's queue).
 */
const MAX_HELD_WRITES = 1024;

/** What a client's backpressure tells its exchange. */
export interface BackpressuredExchange {
  /** The client took what was held: the upstream may send again (unless the exchange is over). */
  resumeUpstream(): void;
  /** The client's side cannot take the response whole (its send deadline, the overflow's failure): cut, and said so. */
  cutForClient(failure: Failure): void;
}

/** The bounds of what a slow client's response may hold, as the exchange is given them. */
export interface BackpressureBounds {
  /**
   * Response bytes held for a slow client before the upstream is paused (`routes[].limits.buffer`):
   * a response up to it is taken whole, and its connection goes back to the pool at once.
   */
  readonly answerBuffer: number;
  /** What every slow client's response may hold in memory together (`limits.buffer_total`); undefined: none. */
  readonly readerMemory: ReaderMemory | undefined;
  /** Where the rest goes past the buffer (the gateway's spool); undefined: nowhere, the upstream waits. */
  readonly overflow: AnswerOverflow | undefined;
}

export class ClientBackpressure implements OverflowOutlet {
  readonly #exchange: BackpressuredExchange;
  readonly #sink: AnswerSink;
  /** The client connection's budget (HTTP/2: shared by its streams); undefined: none. */
  readonly #budget: BufferBudget | undefined;
  readonly #bounds: BackpressureBounds;
  readonly #record: RequestRecord;
  /** Writes made since the client's socket last drained (0: it keeps up). */
  #heldWrites = 0;
  /** Response bytes counted against the client connection's budget (#charge). */
  #heldCharged = 0;
  /** The client's socket holds the buffer's worth: the upstream is paused until it drains. */
  #awaitingDrain = false;
  /** What the client could not take yet, past the buffer, on its way through the overflow. */
  #overflowed: OverflowedAnswer | undefined;
  readonly #drained = (): void => this.#onDrain();

  /** Made after a write to `sink` was left waiting (it armed its send deadline with it). */
  constructor(
    exchange: BackpressuredExchange,
    sink: AnswerSink,
    budget: BufferBudget | undefined,
    bounds: BackpressureBounds,
    record: RequestRecord,
  ) {
    this.#exchange = exchange;
    this.#sink = sink;
    this.#budget = budget;
    this.#bounds = bounds;
    this.#record = record;
    // The sink owns the send deadline: the exchange hears when it runs out, to end the attempt
    // and say why in the log.
    sink.onSendTimeout((limit) => exchange.cutForClient(sendTimeoutFailure(limit)));
    sink.onClose(() => this.#charge(0));
  }

  /** The rest of the response goes through the overflow: its bytes do not reach the client as they were sent. */
  get overflowing(): boolean {
    return this.#overflowed !== undefined;
  }

  /**
   * The upstream is paused until the client takes what is held for it (past the buffer, with no
   * overflow or past its bounds): what the response waits for now is the client, not the upstream.
   */
  get waitsForReader(): boolean {
    return this.#awaitingDrain || this.#overflowed?.pausesUpstream === true;
  }

  /**
   * The client has not taken everything written for it (a write waits for its drain, or the rest
   * went through the overflow): what it waits for is its own reading as much as the upstream.
   */
  get behind(): boolean {
    return this.#heldWrites > 0 || this.#overflowed !== undefined;
  }

  /** The exchange's first write to the client was left waiting (it made this then): the upstream goes on, or waits. */
  leftWaiting(controller: ExchangeController): void {
    if (!this.backlogged()) this.#fellBehind(controller);
  }

  /** The next piece of the body from the upstream: to the client, or through the overflow; the upstream paused when it must wait. */
  relay(chunk: Buffer, controller: ExchangeController): void {
    const overflowed = this.#overflowed;
    if (overflowed !== undefined) {
      if (!overflowed.add(chunk)) controller.pause();
      return;
    }
    if (!this.send(chunk)) this.#fellBehind(controller);
  }

  /** The upstream sent everything: `drained` runs once the client's socket has it all (at once, without an overflow). */
  end(drained: () => void): void {
    const overflowed = this.#overflowed;
    if (overflowed === undefined) drained();
    else overflowed.end(drained);
  }

  /**
   * Writes a piece of the body to the client (OverflowOutlet's too). False when the client is not
   * keeping up and holds the buffer's worth (its drain comes next). Writes are counted too: a
   * million one-byte chunks are a few bytes but a million buffers.
   */
  send(chunk: Buffer): boolean {
    if (this.#sink.write(chunk) && this.#heldWrites === 0) return true;
    return this.backlogged();
  }

  /** A write was left waiting: whether the client may be written more before it drains. */
  backlogged(): boolean {
    const sink = this.#sink;
    if (this.#heldWrites++ === 0) sink.onDrain(this.#drained);
    this.#charge(sink.pendingBytes);
    return (
      sink.pendingBytes <= this.#bounds.answerBuffer &&
      this.#heldWrites <= MAX_HELD_WRITES &&
      !this.#memoryFull()
    );
  }

  /**
   * The client holds the buffer's worth (send() said false): the rest goes through the overflow,
   * so the upstream need not wait for this client; with none (or one without room), the upstream waits.
   */
  #fellBehind(controller: ExchangeController): void {
    if (this.#awaitingDrain) return;
    const { overflow } = this.#bounds;
    const overflowed = this.#sink.closed ? undefined : overflow?.take(this, this.#record.route ?? '');
    if (overflowed !== undefined) {
      this.#overflowed = overflowed;
      this.#sink.onClose(() => overflowed.close());
      return;
    }
    this.#awaitingDrain = true;
    controller.pause();
  }

  /** OverflowOutlet: the overflow emptied enough for the upstream to send again. */
  resume(): void {
    this.#exchange.resumeUpstream();
  }

  /** OverflowOutlet: the overflow failed: the response cannot go on whole, and is cut (said so in the log). */
  failed(details: string, error: Error): void {
    this.#exchange.cutForClient(
      new Failure('proxy_internal_error', details, {
        stage: 'body_streaming',
        cause: error,
      }),
    );
  }

  /** OverflowOutlet: bytes went through the overflow (the log's `spooled`). */
  wrote(bytes: number): void {
    this.#record.spooled = (this.#record.spooled ?? 0) + bytes;
  }

  /**
   * Counts what waits for the client now against its connection's budget and the process's
   * total. Only after a write left something waiting; given back as the client takes it, and
   * whole when the response is over.
   */
  #charge(bytes: number): void {
    const more = bytes - this.#heldCharged;
    this.#heldCharged = bytes;
    this.#budget?.add(more);
    this.#bounds.readerMemory?.add(more);
  }

  /**
   * The client's connection holds its budget's worth, or the slow readers of the whole process
   * hold `limits.buffer_total`: this response holds no more, its rest goes through the overflow
   * or waits for its client.
   */
  #memoryFull(): boolean {
    const readers = this.#bounds.readerMemory;
    return (
      (this.#budget !== undefined && this.#budget.room < 0) || (readers !== undefined && readers.room < 0)
    );
  }

  /** The client took everything held for it. */
  #onDrain(): void {
    this.#heldWrites = 0;
    this.#charge(this.#sink.pendingBytes);
    // An overflowed rest goes on from the overflow (the sink re-arms its send deadline itself).
    if (this.#overflowed !== undefined) return this.#overflowed.pump();
    if (!this.#awaitingDrain) return;
    this.#awaitingDrain = false;
    this.#exchange.resumeUpstream();
  }
}
