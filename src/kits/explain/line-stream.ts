import { createReadStream, type ReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { LogFormatError } from './format-errors.ts';

/** A log file read as batches of lines, gunzipped on the fly when its first bytes say gzip. */
export interface LineSource {
  readonly path: string;
  /** Bytes on disk (compressed, for a .gz). */
  readonly size: number;
  readonly gzip: boolean;
  /** Bytes of the file read so far, for the progress bar. */
  bytesRead(): number;
  /** The lines, in order, a chunk's worth at a time (without their line endings). */
  batches(): AsyncGenerator<string[]>;
}

const CHUNK = 1 << 16;

export async function openLines(path: string): Promise<LineSource> {
  const handle = await open(path, 'r');
  let size: number;
  const magic = Buffer.alloc(2);
  try {
    size = (await handle.stat()).size;
    await handle.read(magic, 0, 2, 0);
  } finally {
    await handle.close();
  }
  const gzip = magic[0] === 0x1f && magic[1] === 0x8b;
  let file: ReadStream | undefined;
  return {
    path,
    size,
    gzip,
    bytesRead: () => file?.bytesRead ?? 0,
    async *batches() {
      file = createReadStream(path, { highWaterMark: CHUNK });
      const text = gzip ? file.pipe(createGunzip({ chunkSize: CHUNK })) : file;
      if (gzip) file.once('error', (error) => text.destroy(error));
      text.setEncoding('utf8');
      let rest = '';
      let first = true;
      try {
        for await (const piece of text as AsyncIterable<string>) {
          // A UTF-8 byte order mark (a Windows editor's, PowerShell's) is no part of the first line.
          const chunk = first && piece.charCodeAt(0) === 0xfeff ? piece.slice(1) : piece;
          first = false;
          const lines = (rest + chunk).split('\n');
          rest = lines.pop() ?? '';
          for (let i = 0; i < lines.length; i++) {
            const line = lines[i];
            if (line.charCodeAt(line.length - 1) === 13) lines[i] = line.slice(0, -1);
          }
          yield lines;
        }
      } catch (err) {
        // zlib's "unexpected end of file" (Z_BUF_ERROR) or "incorrect header check" (Z_DATA_ERROR).
        const code = (err as NodeJS.ErrnoException).code;
        if (gzip && typeof code === 'string' && code.startsWith('Z_'))
          throw new LogFormatError(
            `${path}: its gzip data ends early or is damaged (${(err as Error).message}): a file still being written, or a copy cut off? zcat keeps what comes before the cut: zcat ${path} > log; candor explain log`,
          );
        throw err;
      }
      if (rest !== '') yield [rest.endsWith('\r') ? rest.slice(0, -1) : rest];
    },
  };
}
