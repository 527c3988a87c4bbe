/**
 * What a streamed request body's attempt took from the client, kept (up to `retries.replay_body`)
 * so that the request may go again after part of its body went: to an upstream that then said it
 * never processed it (an HTTP/2 stream refused, or above a GOAWAY's last stream: RFC 9113 §8.7,
 * how a gRPC server that restarts sheds its calls), or on a stale pooled connection (an idempotent
 * method). A body that streams is one no attempt waits for (a gRPC call's, one past the route's
 * buffer or on a route with `request_buffering: false`); the copy holds references to the pieces
 * the client's stream gave (each its own buffer), never more than the bound, and lets them go as
 * soon as the body passes it or the answer's head comes (no attempt follows a head).
 */
import type { KeptBody } from '../../upstream/connections/exchange-contract.ts';

export class StreamedBodyCopy implements KeptBody {
  readonly #bound: number;
  #pieces: Buffer[] = [];
  /** Bytes kept: every byte an attempt took so far, while the body has not passed the bound. */
  #bytes = 0;
  /** Bytes the current attempt took (the pieces it sent again first, then the client's next). */
  #taken = 0;
  /** An attempt took more than the bound, or an answer came: the body cannot go again. */
  #over = false;

  constructor(bound: number) {
    this.#bound = bound;
  }

  /** Every byte an attempt took is kept: a retry may send the body again. */
  get whole(): boolean {
    return !this.#over;
  }

  /**
   * An attempt's pump begins: the pieces earlier ones took, for it to send first (undefined: none).
   * It keeps them again as it sends them (keep()): a piece already held is not held twice.
   */
  begin(): readonly Buffer[] | undefined {
    this.#taken = 0;
    return this.#over || this.#pieces.length === 0 ? undefined : this.#pieces.slice();
  }

  /** A piece the current attempt sends: one of those begin() gave, or the client's next. */
  keep(piece: Buffer): void {
    if (this.#over) return;
    this.#taken += piece.length;
    if (this.#taken <= this.#bytes) return; // sent again: held already
    this.#bytes += piece.length;
    if (this.#bytes > this.#bound) this.letGo();
    else this.#pieces.push(piece);
  }

  /** The body will not go again (an answer's head came): its pieces are let go. */
  letGo(): void {
    this.#over = true;
    this.#pieces = [];
  }
}

/**
 * A failed attempt's body may go again: none or one in hand, a streamed one the attempt took
 * nothing of, or one every byte of which it took is kept.
 */
export function bodyGoesAgain(
  body: { readonly kind: string; readonly copy?: StreamedBodyCopy },
  failure: { readonly stage: string },
): boolean {
  return body.kind !== 'stream' || failure.stage === 'not_sent' || body.copy?.whole === true;
}
