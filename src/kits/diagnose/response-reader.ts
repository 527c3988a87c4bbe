/**
 * The response as the gateway reads it: bytes go through the gateway's own parser
 * (src/core/http1/response-parser.ts), so diagnose refuses exactly what the gateway refuses,
 * under the same failure type, and no rule of HTTP/1.1 is restated here. On top, the reader
 * keeps what the report shows and the parser does not: the head's bytes as they arrived, the
 * interim statuses, the body's size and first bytes.
 */
import type { Failure } from '../../core/failure/failure.ts';
import {
  type FinishResult,
  type ResponseHead,
  ResponseParser,
  type ResponseParserHandler,
} from '../../core/http1/response-parser.ts';
import { UPSTREAM_MAX_HEADER_SIZE } from '../../upstream/targets/upstream.ts';

/** How much of the body is kept, to recognise a portal page. */
const SNIFF = 64 * 1024;
const CRLF = Buffer.from('\r\n', 'latin1');
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

export class ResponseReader implements ResponseParserHandler {
  /** Interim 1xx statuses received before the final head. */
  readonly informational: number[] = [];
  /** The final head, once the parser accepted it. */
  head: ResponseHead | undefined;
  /** The parser's refusal, kept: one that comes after the head belongs to the body. */
  failure: Failure | undefined;
  /** Body bytes received (chunked framing removed). */
  bodyBytes = 0;
  /** The framing says the body is whole. */
  complete = false;
  readonly #parser: ResponseParser;
  /** Every chunk fed until the final head was whole: the head's bytes as they arrived. */
  readonly #raw: Buffer[] = [];
  readonly #sniffed: Buffer[] = [];
  #sniffedBytes = 0;

  constructor(method: string) {
    // The gateway's limit, so that a head too large for it is too large here.
    this.#parser = new ResponseParser(this, UPSTREAM_MAX_HEADER_SIZE);
    this.#parser.expect(method === 'HEAD');
  }

  /** Feeds bytes from the socket; returns the parser's refusal, if any (also kept in `failure`). */
  feed(chunk: Buffer): Failure | undefined {
    if (this.head === undefined) this.#raw.push(chunk);
    this.failure ??= this.#parser.execute(chunk);
    return this.failure;
  }

  /**
   * The upstream closed its side (FIN): 'complete' when that ends a close-delimited body, else
   * where the response was cut ('idle' before its first byte).
   */
  end(): FinishResult {
    return this.#parser.finish();
  }

  /** True once any byte of the response arrived. */
  get started(): boolean {
    return this.#parser.started;
  }

  /** The bytes received before the final head was whole (and the rest of the chunk that completed it). */
  get received(): Buffer {
    if (this.#raw.length > 1) this.#raw.splice(0, this.#raw.length, Buffer.concat(this.#raw));
    return this.#raw[0] ?? Buffer.alloc(0);
  }

  /** The first bytes of the body. */
  get sniff(): Buffer {
    return Buffer.concat(this.#sniffed);
  }

  /** The final head's status line, exactly as received. */
  get statusLine(): string | undefined {
    const span = this.#finalHeadSpan();
    return span && this.received.toString('latin1', span[0], this.received.indexOf(CRLF, span[0]));
  }

  /** The size of the final head, its empty line included. */
  get headBytes(): number | undefined {
    const span = this.#finalHeadSpan();
    return span && span[1] - span[0];
  }

  /** Where the final head lies in `received`: the parser accepts a head only with CRLF line ends, so each ends at its first CRLFCRLF. */
  #finalHeadSpan(): [number, number] | undefined {
    if (this.head === undefined) return undefined;
    const raw = this.received;
    let start = 0;
    let end = 0;
    for (let heads = 0; heads <= this.informational.length; heads++) {
      start = end;
      end = raw.indexOf(CRLFCRLF, start) + 4;
    }
    return [start, end];
  }

  onHead(head: ResponseHead): void {
    if (head.status < 200) this.informational.push(head.status);
    else this.head = head;
  }

  onBody(chunk: Buffer): void {
    this.bodyBytes += chunk.length;
    if (this.#sniffedBytes >= SNIFF) return;
    const kept = chunk.subarray(0, SNIFF - this.#sniffedBytes);
    this.#sniffed.push(kept);
    this.#sniffedBytes += kept.length;
  }

  onComplete(): void {
    this.complete = true;
  }
}

/** Every value of one field (names compared case-insensitively). */
export function fieldValues(head: ResponseHead, lowerName: string): string[] {
  const values: string[] = [];
  const { headers } = head;
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i].toLowerCase() === lowerName) values.push(headers[i + 1]);
  return values;
}

/** The parser's flat [name, value, …] as pairs, the report's form. */
export function headerPairs(head: ResponseHead): Array<readonly [string, string]> {
  const pairs: Array<readonly [string, string]> = [];
  const { headers } = head;
  for (let i = 0; i < headers.length; i += 2) pairs.push([headers[i], headers[i + 1]]);
  return pairs;
}
