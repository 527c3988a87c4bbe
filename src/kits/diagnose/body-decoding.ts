/**
 * The transfer codings under `chunked` (gzip, deflate) undone as the gateway undoes them
 * (core/http1/transfer-decoder.ts, the same decoder): a body whose coded bytes are not valid for
 * their coding is the gateway's `http_response_transfer_coding`, the transfer aborted after the
 * head, though its chunked framing was whole. The decoded bytes are counted, not kept.
 */
import type { Failure } from '../../core/failure/failure.ts';
import type { DecodableCoding } from '../../core/http1/answer-rules.ts';
import { TransferDecoder } from '../../core/http1/transfer-decoder.ts';

export class BodyDecoding {
  /** The coded bytes are not valid for their coding. */
  failure: Failure | undefined;
  /** Content bytes decoded so far. */
  decodedBytes = 0;
  readonly #decoder: TransferDecoder;
  /** Settles when the decoder has emptied after `end()`, or failed. */
  readonly #settled: Promise<void>;

  constructor(codings: readonly DecodableCoding[]) {
    let settle = () => {};
    this.#settled = new Promise<void>((resolve) => {
      settle = resolve;
    });
    this.#decoder = new TransferDecoder(codings, {
      onDecoded: (chunk) => {
        this.decodedBytes += chunk.length;
      },
      // Nothing waits on the decoder: diagnose holds at most its body cap of coded bytes.
      onDrain: () => {},
      onDecodedEnd: settle,
      onDecodeError: (failure) => {
        this.failure = failure;
        settle();
      },
    });
  }

  write(chunk: Buffer): void {
    this.#decoder.write(chunk);
  }

  /** The coded body is whole: resolves once the rest is decoded (`failure` set if it was not valid). */
  end(): Promise<void> {
    this.#decoder.end();
    return this.#settled;
  }

  destroy(): void {
    this.#decoder.destroy();
  }
}
