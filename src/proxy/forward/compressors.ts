/**
 * The compressors of routes[].compression (compressing-sink.ts), one a response: each coding's
 * parameters and the flush that ends a turn's output without ending the stream.
 */
import zlib from 'node:zlib';
import type { ContentCoding } from '../../core/config/types.ts';

export type Compressor = zlib.Gzip | zlib.BrotliCompress | zlib.ZstdCompress;

/**
 * Each coding's parameters for a stream, chosen so that what one stream holds is bounded
 * whatever the upstream's writes (bench/compression-memory.ts: 100 streams, 1 MiB each):
 * - gzip: zlib's own defaults, named: a 32 KiB window (windowBits 15) and memLevel 8, about
 *   0.4 MiB a stream;
 * - brotli: quality 4 (11, the default, costs far too much per byte for a proxy), a 64 KiB
 *   window (lgwin 16: the default 22 is 4 MiB), and a size hint of 64 KiB, without which the
 *   encoder sizes its hash tables by the write it is given (a 1 MiB write: 7.7 MiB a stream,
 *   now about 1 MiB);
 * - zstd: a 128 KiB window (windowLog 17; level 3's is 2 MiB for a stream of unknown size),
 *   about 1.3 MiB a stream.
 */
const GZIP: zlib.ZlibOptions = { windowBits: 15, memLevel: 8 };
const BROTLI: zlib.BrotliOptions = {
  params: {
    [zlib.constants.BROTLI_PARAM_QUALITY]: 4,
    [zlib.constants.BROTLI_PARAM_LGWIN]: 16,
    [zlib.constants.BROTLI_PARAM_SIZE_HINT]: 64 * 1024,
  },
};
const ZSTD: zlib.ZstdOptions = { params: { [zlib.constants.ZSTD_c_windowLog]: 17 } };

/**
 * What a compressor of each coding holds (native memory, outside V8's heap), rounded up from
 * the figures above: counted against its HTTP/2 connection's budget while it lives
 * (compressing-sink.ts), so that a client's streams cannot hold a compressor each past it.
 */
export const COMPRESSOR_BYTES: Record<ContentCoding, number> = {
  gzip: 512 * 1024,
  br: 1024 * 1024,
  zstd: 1536 * 1024,
};

/**
 * Each coding's flush that ends the output so far without ending the stream: gzip's default
 * (a full flush) would forget the window at every turn, and its value means "finish" to brotli.
 */
export const FLUSH: Record<ContentCoding, number> = {
  gzip: zlib.constants.Z_SYNC_FLUSH,
  br: zlib.constants.BROTLI_OPERATION_FLUSH,
  zstd: zlib.constants.ZSTD_e_flush,
};

/** A compressor for `coding`, of bounded memory (exported for bench/compression-memory.ts). */
export function compressorFor(coding: ContentCoding): Compressor {
  if (coding === 'gzip') return zlib.createGzip(GZIP);
  if (coding === 'br') return zlib.createBrotliCompress(BROTLI);
  // Experimental in Node 24 (a warning at first use): offered only where a route lists it.
  return zlib.createZstdCompress(ZSTD);
}
