/**
 * What a response head's framing fields say (Content-Length, Transfer-Encoding, Connection,
 * Keep-Alive), read in one pass over its fields, and the framing they give its body. One per
 * parser, read again at each head: its fields rather than a result object, so that a head
 * allocates nothing extra.
 */
import { Failure } from '../failure/failure.ts';
import {
  type DecodableCoding,
  NO_CODINGS,
  normaliseContentLength,
  parseContentLength,
  transferCodings,
} from './answer-rules.ts';
import type { FieldSectionMemo } from './field-section-memo.ts';
import { keepAliveParam } from './keep-alive.ts';
import type { Framing } from './parsed-answer.ts';
import { nameIs, snippet, trimOws } from './syntax.ts';

/** What read() finds in a head's fields: what a section says, whichever head it comes in. */
export interface AnswerFieldsSaid {
  readonly contentLength: number;
  readonly lengthFields: number;
  readonly lengthCanonical: boolean;
  readonly lengthError: string | undefined;
  readonly te: string | undefined;
  readonly close: boolean;
  readonly keepAliveToken: boolean;
  readonly keepAliveTimeout: number;
  readonly keepAliveMax: number;
}

export class AnswerFramingFields implements AnswerFieldsSaid {
  /** The Content-Length, -1 for none (or none valid). */
  contentLength = -1;
  /** Content-Length fields seen, and whether the first one was already in canonical form. */
  lengthFields = 0;
  lengthCanonical = true;
  lengthError: string | undefined = undefined;
  /** Transfer-Encoding values, all fields' members in order (RFC 9110 §5.3: one list). */
  te: string | undefined = undefined;
  close = false;
  keepAliveToken = false;
  keepAliveTimeout = -1;
  keepAliveMax = -1;
  /** After frame(): how the body is delimited, and the transfer codings to undo, in order. */
  framing: Framing = 'none';
  decode: readonly DecodableCoding[] = NO_CODINGS;

  /**
   * Reads the fields of one head (flat name, value pairs) that readFieldLines just read through
   * `sections`, forgetting the last head's. A section the memo recalled says what it said when
   * first read: that is taken from the memo (reading nginx's five fields again was some 0.15 µs
   * a request under perf, issue 61).
   */
  read(headers: readonly string[], sections: FieldSectionMemo<AnswerFieldsSaid>): void {
    const said = sections.factsOfLast();
    if (said !== undefined) {
      this.#take(said);
      return;
    }
    this.#read(headers);
    sections.attachFacts(this.#said());
  }

  #read(headers: readonly string[]): void {
    this.contentLength = -1;
    this.lengthFields = 0;
    this.lengthCanonical = true;
    this.lengthError = undefined;
    this.te = undefined;
    this.close = false;
    this.keepAliveToken = false;
    this.keepAliveTimeout = -1;
    this.keepAliveMax = -1;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      switch (name.length) {
        case 10:
          if (nameIs(name, 'connection')) {
            const value = headers[i + 1];
            // The usual single option first, without allocating a lowercase copy.
            if (nameIs(value, 'close')) this.close = true;
            else if (nameIs(value, 'keep-alive')) this.keepAliveToken = true;
            else
              for (const token of value.toLowerCase().split(',')) {
                const t = trimOws(token);
                if (t === 'close') this.close = true;
                else if (t === 'keep-alive') this.keepAliveToken = true;
              }
          } else if (nameIs(name, 'keep-alive')) {
            // Every field line read: `Keep-Alive: timeout=5` and `Keep-Alive: max=9` are one list.
            this.keepAliveTimeout = keepAliveParam(headers[i + 1], 'timeout', this.keepAliveTimeout);
            this.keepAliveMax = keepAliveParam(headers[i + 1], 'max', this.keepAliveMax);
          }
          break;
        case 14:
          // Checked on every status, a HEAD's or a 304's too: the field is forwarded, and a
          // downstream parser refuses a malformed or conflicting one whatever the status.
          if (nameIs(name, 'content-length')) this.#contentLength(headers[i + 1]);
          break;
        case 17:
          if (nameIs(name, 'transfer-encoding')) {
            this.te = this.te === undefined ? headers[i + 1] : `${this.te},${headers[i + 1]}`;
          }
          break;
      }
    }
  }

  #take(said: AnswerFieldsSaid): void {
    this.contentLength = said.contentLength;
    this.lengthFields = said.lengthFields;
    this.lengthCanonical = said.lengthCanonical;
    this.lengthError = said.lengthError;
    this.te = said.te;
    this.close = said.close;
    this.keepAliveToken = said.keepAliveToken;
    this.keepAliveTimeout = said.keepAliveTimeout;
    this.keepAliveMax = said.keepAliveMax;
  }

  /** What read() found, as an object of its own (frame() changes contentLength afterwards). */
  #said(): AnswerFieldsSaid {
    return {
      contentLength: this.contentLength,
      lengthFields: this.lengthFields,
      lengthCanonical: this.lengthCanonical,
      lengthError: this.lengthError,
      te: this.te,
      close: this.close,
      keepAliveToken: this.keepAliveToken,
      keepAliveTimeout: this.keepAliveTimeout,
      keepAliveMax: this.keepAliveMax,
    };
  }

  #contentLength(value: string): void {
    this.lengthFields++;
    if (this.lengthError !== undefined) return;
    const n = parseContentLength(value);
    if (n === -1) this.lengthError = `invalid Content-Length ${snippet(value)}`;
    else if (n === -2) this.lengthError = `Content-Length ${snippet(value)} is too large`;
    else if (n === -3 || (this.contentLength !== -1 && n !== this.contentLength))
      this.lengthError = 'conflicting Content-Length values';
    else {
      this.contentLength = n;
      // The digits of n and nothing else: a value with another character or a leading zero is longer.
      if (this.lengthFields === 1 && value.length !== digitsOf(n)) this.lengthCanonical = false;
    }
  }

  /**
   * The framing of the body after a head whose fields read() read (`bodyless`: none follows
   * whatever they say): sets `framing`, `decode` and `contentLength` (-1 unless framed by
   * length), and leaves one Content-Length in canonical form in `headers`. The failure when
   * the fields leave the body's end in doubt.
   */
  frame(headers: string[], bodyless: boolean, minor: number): Failure | undefined {
    const { lengthFields, lengthError, te } = this;
    this.decode = NO_CODINGS;
    if (bodyless) {
      // No body follows whatever the fields say; a valid Content-Length is the representation's.
      // Both framings at once is the smuggling signature whatever the status or method (RFC 9112
      // §6.3: the Content-Length could only be forwarded removed; llhttp refuses it on a HEAD's
      // answer and a 304 too), and the same head must not be a 502 to a GET and relayed to a HEAD.
      if (te !== undefined && lengthFields > 0)
        return badCoding('Transfer-Encoding together with Content-Length');
      if (lengthError !== undefined) return badLength(lengthError);
      this.framing = 'none';
    } else if (te !== undefined) {
      // Checked before the Content-Length values: with both present, the conflict is the fault.
      if (lengthFields > 0) return badCoding('Transfer-Encoding together with Content-Length');
      // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
      if (minor === 0) return badCoding('Transfer-Encoding in an HTTP/1.0 response');
      const codings = transferCodings(te);
      if (typeof codings === 'string') return badCoding(codings);
      this.decode = codings;
      this.framing = 'chunked';
    } else if (lengthError !== undefined) {
      return badLength(lengthError);
    } else if (this.contentLength !== -1) {
      this.framing = 'length';
    } else {
      this.framing = 'close';
    }
    // One Content-Length in canonical form, whatever came: a duplicate or a list passed on as
    // received is refused by the next parser (llhttp does), while this hop called it valid.
    if (lengthFields > 1 || !this.lengthCanonical) normaliseContentLength(headers, this.contentLength);
    if (this.framing !== 'length') this.contentLength = -1;
    return undefined;
  }

  /** After frame(): the connection may carry another request after this response. */
  keepAlive(minor: number): boolean {
    // `max=M` counts the requests the upstream still takes on the connection, but not all alike:
    // Apache counts those left after this one (its last reusable answer says max=1, the next one
    // Connection: close), others this one too. Read as the last either way: at worst a connection
    // opens one request early, where the other reading risks a POST written to a socket being
    // closed (502 not_idempotent).
    const lastByMax = this.keepAliveMax !== -1 && this.keepAliveMax <= 1;
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing, and the connection closes
    // after the message. With a body frame() refused it; a bodyless answer is relayed, then closed.
    const faulty = minor === 0 && this.te !== undefined;
    return (
      this.framing !== 'close' && !this.close && !lastByMax && !faulty && (minor === 1 || this.keepAliveToken)
    );
  }
}

/** How many decimal digits n has: what String(n) would be compared by, without making it each response. */
function digitsOf(n: number): number {
  let digits = 1;
  for (let power = 10; power <= n; power *= 10) digits++;
  return digits;
}

function badLength(details: string): Failure {
  return new Failure('http_response_content_length', details);
}

function badCoding(details: string): Failure {
  return new Failure('http_response_transfer_coding', details);
}
