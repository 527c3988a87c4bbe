/**
 * The interim (1xx) heads of one response, held together to the response head limit. Each head
 * is bounded on its own (by the HTTP/1.1 parser, by node:http2 for a HEADERS block), not how many
 * come before the final one: an upstream sending 1xx in a loop would be read until the response
 * timeout, then blamed for sending nothing. Go's client counts them against its header limit the
 * same way. One count for both protocols, so that both say the same.
 */
export class InterimHeads {
  #count = 0;
  #bytes = 0;
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** The interim heads of the current response so far. */
  get count(): number {
    return this.#count;
  }

  /**
   * Counts a head of `size` bytes, as its protocol sizes one (HTTP/1.1: its text and CRLFs;
   * HTTP/2: its header list, RFC 9113 §6.5.2). Past the limit, the failure's details.
   */
  add(size: number): string | undefined {
    this.#count++;
    this.#bytes += size;
    if (this.#bytes <= this.#limit) return undefined;
    return `${this.#count} interim (1xx) responses and no final one: their ${this.#bytes} bytes are past the response head limit of ${this.#limit}`;
  }

  /** A new response: none counted. */
  reset(): void {
    this.#count = 0;
    this.#bytes = 0;
  }
}
