/**
 * A small incremental HTTP/1.x request parser for the raw-TCP faults, so they can record what
 * the gateway sent: request line, header lines, and a body framed by Content-Length or chunked
 * (with trailers). Pipelined requests are parsed one after another. Bytes that are not an HTTP
 * request (a TLS ClientHello, say) stop the parser; the connection's `firstBytes` still has them.
 */
import type { RecordedRequest } from './recorded-request.ts';

interface ParsedHead {
  method: string;
  path: string;
  httpVersion: string;
  rawHeaders: Array<readonly [string, string]>;
}

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'stopped';

const MAX_HEAD = 1024 * 1024;
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/(\d\.\d)$/;

export class RequestStreamParser {
  #buffer: Buffer = Buffer.alloc(0);
  #state: State = 'head';
  #request: RecordedRequest | undefined;
  #remaining = 0;
  #startRequest: (head: ParsedHead) => RecordedRequest;

  /** `startRequest` records a parsed head and returns the record its body goes into. */
  constructor(startRequest: (head: ParsedHead) => RecordedRequest) {
    this.#startRequest = startRequest;
  }

  /** Whether the bytes so far stopped being parseable as HTTP requests. */
  get stopped(): boolean {
    return this.#state === 'stopped';
  }

  push(chunk: Buffer): void {
    if (this.#state === 'stopped') return;
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length > 0 && this.#step()) {
      // each step consumes what it can; it returns false when it needs more bytes
    }
  }

  #consume(n: number): Buffer {
    const taken = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    this.#request?.addRaw(taken);
    return taken;
  }

  /** Consumes one line (without its CRLF or bare LF), or returns undefined if none is complete yet. */
  #line(): string | undefined {
    const lf = this.#buffer.indexOf(10);
    if (lf < 0) {
      if (this.#buffer.length > MAX_HEAD) this.#state = 'stopped';
      return undefined;
    }
    const line = this.#consume(lf + 1).toString('latin1');
    return line.endsWith('\r\n') ? line.slice(0, -2) : line.slice(0, -1);
  }

  #step(): boolean {
    switch (this.#state) {
      case 'head':
        return this.#head();
      case 'length': {
        const body = this.#consume(Math.min(this.#remaining, this.#buffer.length));
        this.#remaining -= body.length;
        this.#request!.addBody(body);
        if (this.#remaining === 0) this.#finish();
        return true;
      }
      case 'chunk-size': {
        const line = this.#line();
        if (line === undefined) return false;
        const size = Number.parseInt(line.split(';')[0].trim(), 16);
        if (!Number.isFinite(size) || size < 0) {
          this.#state = 'stopped';
          return false;
        }
        this.#remaining = size;
        this.#state = size === 0 ? 'trailers' : 'chunk-data';
        return true;
      }
      case 'chunk-data': {
        const body = this.#consume(Math.min(this.#remaining, this.#buffer.length));
        this.#remaining -= body.length;
        this.#request!.addBody(body);
        if (this.#remaining === 0) this.#state = 'chunk-end';
        return true;
      }
      case 'chunk-end': {
        const line = this.#line();
        if (line === undefined) return false;
        this.#state = 'chunk-size';
        return true;
      }
      case 'trailers': {
        const line = this.#line();
        if (line === undefined) return false;
        if (line === '') {
          this.#finish();
          return true;
        }
        const colon = line.indexOf(':');
        if (colon > 0) this.#request!.trailers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
        return true;
      }
      default:
        return false;
    }
  }

  #head(): boolean {
    const text = this.#buffer.toString('latin1');
    const match = /\r?\n\r?\n/.exec(text);
    if (!match) {
      if (this.#buffer.length > MAX_HEAD || !looksLikeRequestStart(text)) this.#state = 'stopped';
      return false;
    }
    const headBytes = this.#buffer.subarray(0, match.index + match[0].length);
    const lines = text.slice(0, match.index).split(/\r?\n/);
    const requestLine = REQUEST_LINE.exec(lines[0]);
    if (!requestLine) {
      this.#state = 'stopped';
      return false;
    }
    const rawHeaders: Array<[string, string]> = [];
    for (const line of lines.slice(1)) {
      if ((line.startsWith(' ') || line.startsWith('\t')) && rawHeaders.length > 0) {
        rawHeaders[rawHeaders.length - 1][1] += ` ${line.trim()}`; // obsolete line folding
        continue;
      }
      const colon = line.indexOf(':');
      rawHeaders.push(colon < 0 ? [line, ''] : [line.slice(0, colon), line.slice(colon + 1).trim()]);
    }
    this.#buffer = this.#buffer.subarray(headBytes.length);
    const request = this.#startRequest({
      method: requestLine[1],
      path: requestLine[2],
      httpVersion: requestLine[3],
      rawHeaders,
    });
    this.#request = request;
    request.addRaw(headBytes);
    const headers = request.headers;
    const codings = (headers['transfer-encoding'] ?? '').toLowerCase();
    if (codings.trim().endsWith('chunked')) {
      this.#state = 'chunk-size';
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length'].split(',')[0].trim());
      this.#remaining = Number.isSafeInteger(length) && length > 0 ? length : 0;
      if (this.#remaining > 0) this.#state = 'length';
      else this.#finish();
    } else {
      this.#finish();
    }
    return true;
  }

  #finish(): void {
    this.#request?.complete();
    this.#request = undefined;
    this.#state = 'head';
  }
}

/** A request line starts with a token then a space; anything else (TLS, SSH...) is not HTTP. */
function looksLikeRequestStart(text: string): boolean {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]{0,32}( |$)/.test(text) || /^\r?\n/.test(text);
}
