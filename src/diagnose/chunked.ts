/**
 * A chunked body (RFC 9112 §7.1) decoded as it arrives, only to count its bytes and tell a
 * valid end from a broken or cut one.
 */

export type ChunkedState = 'size' | 'data' | 'data-crlf' | 'trailers' | 'done';

const MAX_LINE = 4096;
const CHUNK_SIZE = /^([0-9a-fA-F]{1,16})[ \t]*(?:;.*)?$/;

export class ChunkedDecoder {
  state: ChunkedState = 'size';
  /** Body bytes decoded so far. */
  bytes = 0;
  /** Set when the framing is broken, with what was wrong. */
  error: string | undefined;
  #line = '';
  #remaining = 0;

  /** Feeds raw bytes; returns the decoded body bytes in them (for sniffing), empty when none. */
  push(chunk: Buffer): Buffer[] {
    const data: Buffer[] = [];
    let i = 0;
    while (i < chunk.length && this.state !== 'done' && this.error === undefined) {
      if (this.state === 'data') {
        const take = Math.min(this.#remaining, chunk.length - i);
        data.push(chunk.subarray(i, i + take));
        this.bytes += take;
        this.#remaining -= take;
        i += take;
        if (this.#remaining === 0) this.state = 'data-crlf';
        continue;
      }
      const lf = chunk.indexOf(0x0a, i);
      const end = lf === -1 ? chunk.length : lf;
      this.#line += chunk.toString('latin1', i, end);
      i = end;
      if (this.#line.length > MAX_LINE) {
        this.error = 'a chunk line longer than 4 KiB';
        break;
      }
      if (lf === -1) break;
      i = lf + 1;
      const line = this.#line;
      this.#line = '';
      if (!line.endsWith('\r')) {
        this.error = 'a chunk line ends in LF without CR';
        break;
      }
      this.#onLine(line.slice(0, -1));
    }
    return data;
  }

  #onLine(line: string): void {
    switch (this.state) {
      case 'size': {
        const match = CHUNK_SIZE.exec(line);
        if (!match) {
          this.error = `invalid chunk size "${line.slice(0, 40)}"`;
          return;
        }
        this.#remaining = Number.parseInt(match[1], 16);
        this.state = this.#remaining === 0 ? 'trailers' : 'data';
        return;
      }
      case 'data-crlf':
        if (line !== '') this.error = 'chunk data longer than its size';
        else this.state = 'size';
        return;
      case 'trailers':
        if (line === '') this.state = 'done';
        return;
    }
  }
}
