/**
 * Undoes the transfer codings a response came with under `chunked` (gzip, deflate). Transfer
 * codings are hop-by-hop (RFC 9112 §7): Candor relays the content and the downstream hop frames
 * it again, so a server that compresses per hop is served instead of refused.
 *
 * Streaming, with a named bound: at most DECODER_BUFFER bytes of compressed input wait in the
 * decoder; beyond that `write` says stop and the connection stops reading the socket until
 * `onDrain`. Output leaves in zlib's chunks only as fast as the downstream takes it (`pause`).
 */
import { createGunzip, createInflate, type Gunzip, type Inflate, type ZlibOptions } from 'node:zlib';
import { Failure } from '../failure/failure.ts';
import type { DecodableCoding } from './answer-rules.ts';

/** Compressed bytes the decoder may hold before the connection stops reading the upstream. */
const DECODER_BUFFER = 64 * 1024;

export interface TransferDecoderHandler {
  onDecoded(chunk: Buffer): void;
  /** The decoder wants more input again after `write` returned false. */
  onDrain(): void;
  /** All input decoded and passed on: the content is whole. */
  onDecodedEnd(): void;
  /** The coded bytes are not valid for their coding; `failure` names it. */
  onDecodeError(failure: Failure): void;
}

export class TransferDecoder {
  private readonly first: Gunzip | Inflate;
  private readonly last: Gunzip | Inflate;
  private readonly streams: (Gunzip | Inflate)[];
  private done = false;

  /** `codings` in the order to undo them. */
  constructor(codings: readonly DecodableCoding[], handler: TransferDecoderHandler) {
    this.streams = codings.map((coding) => {
      // Zlib streams are Transforms: highWaterMark bounds both the coded input and the decoded output held.
      const options: ZlibOptions & { highWaterMark: number } = { highWaterMark: DECODER_BUFFER };
      const stream = coding === 'gzip' ? createGunzip(options) : createInflate(options);
      stream.on('error', (err: NodeJS.ErrnoException) => {
        if (this.done) return;
        this.destroy();
        handler.onDecodeError(
          new Failure('http_response_transfer_coding', `invalid ${coding} transfer coding: ${err.message}`, {
            stage: 'body_streaming',
            cause: err,
          }),
        );
      });
      return stream;
    });
    for (let i = 1; i < this.streams.length; i++) this.streams[i - 1].pipe(this.streams[i]);
    this.first = this.streams[0];
    this.last = this.streams[this.streams.length - 1];
    this.first.on('drain', () => {
      if (!this.done) handler.onDrain();
    });
    this.last.on('data', (chunk: Buffer) => {
      if (!this.done) handler.onDecoded(chunk);
    });
    this.last.on('end', () => {
      if (this.done) return;
      this.done = true;
      handler.onDecodedEnd();
    });
  }

  /** Passes coded bytes in; false when the decoder is full (stop reading until onDrain). */
  write(chunk: Buffer): boolean {
    return this.first.write(chunk);
  }

  /** No more coded bytes: onDecodedEnd follows once the rest is decoded (or onDecodeError if it is cut short). */
  end(): void {
    this.first.end();
  }

  /** The downstream is full: hold decoded output (zlib then stops taking input, which pauses the socket). */
  pause(): void {
    this.last.pause();
  }

  resume(): void {
    this.last.resume();
  }

  /** Stops for good; no handler call follows. */
  destroy(): void {
    this.done = true;
    for (const stream of this.streams) stream.destroy();
  }
}
