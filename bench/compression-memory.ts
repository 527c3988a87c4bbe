/**
 * Bytes held by compressing streams (routes[].compression): N streams of a coding, each given
 * one write of 1 MiB of text (varied JSON lines, compressible as a real body is, not one byte
 * repeated) or the same in writes of --write bytes, flushed as the sink flushes at a turn's end,
 * then held open; the RSS grown, per stream. Each coding in a process of its own, with glibc's
 * malloc kept to one arena (zlib works on the thread pool: freed memory in other threads'
 * arenas would blur the figure). Not a throughput figure: the same on a loaded machine.
 *
 *   node_modules/.bin/node bench/compression-memory.ts [--streams 100] [--write 1048576]
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import type zlib from 'node:zlib';
import type { ContentCoding } from '../src/core/config/types.ts';
import { compressorFor } from '../src/proxy/forward/compressors.ts';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '100' },
    write: { type: 'string', default: String(1024 * 1024) },
    coding: { type: 'string' },
  },
});
const streams = Number(values.streams);
const write = Number(values.write);
const MiB = 1024 * 1024;

function text(): Buffer {
  const lines: string[] = [];
  for (let i = 0, size = 0; size < MiB; i++) {
    const line = `{"id":${i},"name":"user-${(i * 7919) % 100003}","score":${(i * 31337) % 9973},"tags":["t${i % 17}","u${i % 29}"]}\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, MiB);
}

async function heldPerStream(coding: ContentCoding): Promise<number> {
  const body = text();
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  const open: zlib.Gzip[] = [];
  for (let i = 0; i < streams; i++) {
    const compressor = compressorFor(coding) as zlib.Gzip;
    compressor.on('data', () => {}); // the client reads everything: what stays is the compressor's own
    for (let at = 0; at < body.length; at += write) compressor.write(body.subarray(at, at + write));
    await new Promise<void>((done) => compressor.flush(() => done()));
    open.push(compressor);
  }
  globalThis.gc?.();
  return (process.memoryUsage().rss - before) / streams;
}

if (values.coding !== undefined) {
  process.removeAllListeners('warning'); // zstd is experimental in Node 24
  console.log(Math.round((await heldPerStream(values.coding as ContentCoding)) / 1024));
} else {
  console.log(`${streams} streams, 1 MiB each in writes of ${write} bytes, flushed and held open:`);
  for (const coding of ['gzip', 'br', 'zstd']) {
    const kib = execFileSync(
      process.execPath,
      [
        '--expose-gc',
        import.meta.filename,
        '--coding',
        coding,
        '--streams',
        String(streams),
        '--write',
        String(write),
      ],
      { env: { ...process.env, MALLOC_ARENA_MAX: '1' }, encoding: 'utf8' },
    ).trim();
    console.log(`${coding.padEnd(5)} ${kib.padStart(6)} KiB a stream`);
  }
}
