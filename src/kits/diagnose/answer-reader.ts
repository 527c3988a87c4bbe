/**
 * The response as the gateway reads it: bytes go through the gateway's own parser
 * (src/core/http1/answer-parser.ts), so diagnose refuses exactly what the gateway refuses,
 * under the same failure type, and no rule of HTTP/1.1 is restated here. On top, the reader
 * keeps what the report shows and the parser does not: the head's bytes as they arrived, the
 * interim statuses, the body's size and first bytes.
 */
import type { Failure } from '../../core/failure/failure.ts';
import { AnswerParser } from '../../core/http1/answer-parser.ts';
import type { AnswerHead, AnswerParserHandler, FinishResult } from '../../core/http1/parsed-answer.ts';
import { MAX_INTERIM } from '../../proxy/forward/exchange-options.ts';
import { UPSTREAM_MAX_HEADER_SIZE } from '../../upstream/targets/upstream.ts';
import { BodyDecoding } from './body-decoding.ts';

/** How much of the body is kept, to recognise a portal page. */
const SNIFF = 64 * 1024;
const CRLF = Buffer.from('\r\n', 'latin1');
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

export class AnswerReader implements AnswerParserHandler {
  /** The first interim 1xx statuses received before the final head (as many as the gateway relays). */
  readonly informational: number[] = [];
  /**
   * Every interim head received, and their bytes. A server may send them without end (a flood
   * grew diagnose to 2.6 GiB, then crashed it): only the counts grow; their bytes are dropped
   * as each head ends, as the gateway relays MAX_INTERIM and drops the rest.
   */
  readonly interim = { count: 0, bytes: 0 };
  /** Interim heads ended in the chunk being fed: their bytes are dropped once it is parsed. */
  #interimEnded = 0;
  /** The final head, once the parser accepted it. */
  head: AnswerHead | undefined;
  /** The parser's refusal, kept: one that comes after the head belongs to the body. */
  failure: Failure | undefined;
  /** Body bytes received (chunked framing removed). */
  bodyBytes = 0;
  /** The framing says the body is whole. */
  complete = false;
  /** Bytes that came past the end of the response, in the read that ended it (the gateway closes the connection for them). */
  stray: Buffer | undefined;
  /** The transfer codings under `chunked` being undone, as the gateway undoes them (none: undefined). */
  decoding: BodyDecoding | undefined;
  readonly #parser: AnswerParser;
  /** Every chunk fed until the final head was whole: the head's bytes as they arrived. */
  readonly #raw: Buffer[] = [];
  readonly #sniffed: Buffer[] = [];
  #sniffedBytes = 0;

  constructor(method: string) {
    // The gateway's limit, so that a head too large for it is too large here.
    this.#parser = new AnswerParser(this, UPSTREAM_MAX_HEADER_SIZE);
    this.#parser.expect(method === 'HEAD');
  }

  /** Feeds bytes from the socket; returns the parser's refusal, if any (also kept in `failure`). */
  feed(chunk: Buffer): Failure | undefined {
    if (this.head === undefined) this.#raw.push(chunk);
    this.failure ??= this.#parser.execute(chunk);
    if (this.complete && this.stray === undefined && this.#parser.leftover > 0)
      this.stray = chunk.subarray(chunk.length - this.#parser.leftover);
    if (this.#interimEnded > 0) this.#dropInterim();
    return this.failure;
  }

  /** Drops the bytes of the interim heads that ended: `received` starts at the head after them. */
  #dropInterim(): void {
    const raw = this.received;
    let start = 0;
    // The parser accepts a head only with CRLF line ends: each ends at its first CRLFCRLF.
    for (; this.#interimEnded > 0; this.#interimEnded--) start = raw.indexOf(CRLFCRLF, start) + 4;
    this.interim.bytes += start;
    this.#raw.splice(0, this.#raw.length, raw.subarray(start));
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

  /** Where the final head lies in `received` (the interim heads' bytes are dropped): it ends at its first CRLFCRLF. */
  #finalHeadSpan(): [number, number] | undefined {
    if (this.head === undefined) return undefined;
    return [0, this.received.indexOf(CRLFCRLF) + 4];
  }

  onHead(head: AnswerHead): void {
    if (head.status >= 200) {
      this.head = head;
      if (head.decode.length > 0) this.decoding = new BodyDecoding(head.decode);
      return;
    }
    this.interim.count++;
    this.#interimEnded++;
    if (this.informational.length < MAX_INTERIM.count) this.informational.push(head.status);
  }

  onBody(chunk: Buffer): void {
    this.bodyBytes += chunk.length;
    this.decoding?.write(chunk);
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
export function fieldValues(head: { readonly headers: readonly string[] }, lowerName: string): string[] {
  const values: string[] = [];
  const { headers } = head;
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i].toLowerCase() === lowerName) values.push(headers[i + 1]);
  return values;
}

/** The parser's flat [name, value, …] as pairs, the report's form. */
export function headerPairs(head: { readonly headers: readonly string[] }): Array<readonly [string, string]> {
  const pairs: Array<readonly [string, string]> = [];
  const { headers } = head;
  for (let i = 0; i < headers.length; i += 2) pairs.push([headers[i], headers[i + 1]]);
  return pairs;
}

/** One note per header field, a long value cut at 100 characters (its length said). */
export function headerNotes(headers: ReadonlyArray<readonly [string, string]>): string[] {
  return headers.map(
    ([name, value]) =>
      `${name}: ${value.length > 100 ? `${value.slice(0, 100)}… (${value.length} bytes)` : value}`,
  );
}

const kib = (bytes: number) =>
  bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;

/**
 * The gateway's refusal of interim heads past the response head limit (InterimHeads, in
 * src/core/limits/interim-heads.ts), its count first: no note then says it reads on.
 */
export const INTERIM_FLOOD = /^(\d+) interim \(1xx\) responses and no final one/;

/**
 * A note when the server sent more interim (1xx) answers than the gateway relays. `bytes`
 * undefined: an HTTP/2 probe, whose HEADERS frames node:http2 decodes without saying their size.
 */
export function interimNote(interim: { readonly count: number; readonly bytes?: number }): string[] {
  const { count, bytes } = interim;
  if (count <= MAX_INTERIM.count && (bytes === undefined || bytes <= MAX_INTERIM.bytes)) return [];
  const size = bytes === undefined ? '' : `, ${kib(bytes)}`;
  return [
    `${count} interim (1xx) answers${size}, before the final head: the gateway relays the first ${MAX_INTERIM.count} (at most ${kib(MAX_INTERIM.bytes)}) and drops the rest, reading on until its response timeout`,
  ];
}
