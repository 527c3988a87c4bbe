/**
 * Whether the body of an answer under a Content-Encoding ended where its coding ends. fetch
 * (undici) undoes gzip, deflate and br leniently, as a browser does (its decoders flush what they
 * have at the end, whatever the stream's state): a stream cut short in a message whose framing
 * is whole (a server that wrote its Content-Length for bytes it then did not compress whole, a
 * gzip without its trailer) reads as a short body, or an empty one, with nothing said. Here the
 * same bytes, as they came off the connection (undici's `bodyChunkReceived`, its transfer coding
 * undone and its content coding not), go through a strict decoder whose output is dropped: its
 * end says whether the stream was whole. The cost, a body decoded twice, is paid only for an
 * answer under one of these codings. Several codings in one field (`deflate, gzip`) are not
 * checked: rare, and fetch undoes them as leniently.
 */
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, createInflateRaw } from 'node:zlib';

/** How a strict decoder of each coding fetch undoes is made, from its first bytes. */
const DECODERS: Readonly<Record<string, (first: Buffer) => Transform>> = {
  gzip: () => createGunzip(),
  'x-gzip': () => createGunzip(),
  // HTTP's deflate is the zlib format, but servers send raw deflate too: undici tells them by the
  // first byte (a zlib header's compression method, 8), and so does this.
  deflate: (first) => ((first[0] & 0x0f) === 0x08 ? createInflate() : createInflateRaw()),
  br: () => createBrotliDecompress(),
};

/** The check of one answer's body, fed its bytes as they came. */
export class CodingCheck {
  /** The coding as the answer named it (`gzip`, `x-gzip`, `deflate`, `br`). */
  readonly coding: string;
  #decoder: Transform | undefined;
  #error: (Error & { code?: unknown }) | undefined;

  constructor(coding: string) {
    this.coding = coding;
  }

  /** Bytes of the body, as the connection gave them (before fetch undoes the coding). */
  write(chunk: Buffer): void {
    if (this.#error !== undefined || chunk.byteLength === 0) return;
    if (this.#decoder === undefined) {
      const decoder = DECODERS[this.coding](chunk);
      decoder.on('error', (err: Error) => {
        this.#error ??= err;
      });
      // Its output is not wanted, but a decoder whose output is not read stops decoding.
      decoder.resume();
      this.#decoder = decoder;
    }
    this.#decoder.write(chunk);
  }

  /**
   * Once the body's bytes are all written: undefined when the coding ended whole (or the body was
   * empty: nothing to decode), else the decoder's error (`unexpected end of file` for a stream
   * cut short, `Z_BUF_ERROR`).
   */
  end(): Promise<(Error & { code?: unknown }) | undefined> {
    const decoder = this.#decoder;
    if (decoder === undefined || this.#error !== undefined) return Promise.resolve(this.#error);
    return new Promise((resolve) => {
      decoder.once('end', () => resolve(undefined));
      decoder.once('error', (err: Error) => resolve(err));
      decoder.end();
    });
  }

  /** The body will not be read to its end: the decoder's memory is let go now. */
  drop(): void {
    this.#decoder?.destroy();
  }
}

/**
 * The check for an answer whose raw fields (undici's `[name, value, …]`) name one coding fetch
 * undoes in Content-Encoding; undefined for any other.
 */
export function codingCheckFor(fields: readonly Buffer[]): CodingCheck | undefined {
  const codings: string[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i].toString('latin1').toLowerCase() !== 'content-encoding') continue;
    for (const each of fields[i + 1].toString('latin1').split(',')) {
      const coding = each.trim().toLowerCase();
      if (coding !== '') codings.push(coding);
    }
  }
  return codings.length === 1 && Object.hasOwn(DECODERS, codings[0])
    ? new CodingCheck(codings[0])
    : undefined;
}
