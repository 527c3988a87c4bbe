/**
 * A gRPC response cut after its head. gRPC carries its status in the trailers, not in `:status`,
 * so such a response can still say how it failed: ended after a whole message with the failure's
 * `grpc-status` and `grpc-message` (UNAVAILABLE for a reset, DEADLINE_EXCEEDED for a stall),
 * it tells the client as plainly as a reset that the call failed, and why. Inside a message it
 * cannot: trailers would end a message cut short, which a client may read as a whole one or as
 * a decoding error, so the stream is reset, which a gRPC client reads as INTERNAL
 * (grpc/doc/PROTOCOL-HTTP2.md, "Errors").
 */
import { isGrpcContentType } from '../../core/failure/grpc-answer.ts';

/**
 * Where a gRPC body stands in its length-prefixed messages (PROTOCOL-HTTP2.md: a flag byte, a
 * four-byte big-endian length, the message), fed the bytes as they go to the client.
 */
export class GrpcMessageBounds {
  /** Bytes of the next message's five-byte prefix still to come. */
  #prefixLeft = 5;
  /** The length being read from the prefix. */
  #length = 0;
  /** Bytes of the current message still to come. */
  #messageLeft = 0;
  /** The current message's length, as its prefix announced it. */
  #messageLength = 0;
  /** Messages begun (their prefix's first byte came). */
  #begun = 0;

  feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#messageLeft > 0) {
        const taken = Math.min(this.#messageLeft, chunk.length - at);
        this.#messageLeft -= taken;
        at += taken;
        continue;
      }
      const byte = chunk[at++];
      // The first byte is the compressed flag; the four after it, the length.
      if (this.#prefixLeft < 5) this.#length = this.#length * 256 + byte;
      else this.#begun++;
      if (--this.#prefixLeft === 0) {
        this.#messageLeft = this.#length;
        this.#messageLength = this.#length;
        this.#length = 0;
        this.#prefixLeft = 5;
      }
    }
  }

  /** Every message begun has been sent whole (none begun counts). */
  get atBoundary(): boolean {
    return this.#prefixLeft === 5 && this.#messageLeft === 0;
  }

  /**
   * Where in a message the body stands, for a failure's details ("gRPC message 2, after 40 of its
   * 100 bytes"); undefined at a boundary.
   */
  get inside(): string | undefined {
    if (this.#messageLeft > 0)
      return `gRPC message ${this.#begun}, after ${this.#messageLength - this.#messageLeft} of its ${this.#messageLength} bytes`;
    if (this.#prefixLeft < 5)
      return `gRPC message ${this.#begun}, after ${5 - this.#prefixLeft} of the 5 bytes of its length prefix`;
    return undefined;
  }
}

/** Whether a response head (flat [name, value, …]) is a gRPC one whose body is length-prefixed messages. */
export function isGrpcAnswer(status: number, headers: readonly string[]): boolean {
  if (status !== 200) return false;
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i].length === 12 && headers[i].toLowerCase() === 'content-type')
      return isGrpcContentType(headers[i + 1]);
  return false;
}
