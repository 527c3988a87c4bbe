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
  /**
   * The lines, in order, a chunk's worth at a time (without their line endings); a line longer
   * than MAX_LINE comes as `null`: it is counted, never read.
   */
  batches(): AsyncGenerator<Array<string | null>>;
}

const CHUNK = 1 << 16;

/**
 * The longest line explain reads, in characters: far above any line the proxies write (nginx
 * cuts its error lines at 2 KiB, HAProxy its log lines at 1 KiB by default, a JSON access line
 * with its headers is a few KiB). A longer line is skipped unread, and holds no more memory
 * than this while it is skipped: a file of one endless line costs a bounded buffer.
 */
export const MAX_LINE = 64 * 1024;

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
      // Inside a line already longer than MAX_LINE: its text is dropped until its end.
      let overlong = false;
      let first = true;
      try {
        for await (const piece of text as AsyncIterable<string>) {
          // A UTF-8 byte order mark (a Windows editor's, PowerShell's) is no part of the first line.
          const chunk = first && piece.charCodeAt(0) === 0xfeff ? piece.slice(1) : piece;
          first = false;
          const parts = chunk.split('\n');
          const lines: Array<string | null> = [];
          for (let i = 0; i < parts.length - 1; i++) {
            const line = i === 0 ? rest + parts[0] : parts[i];
            if ((i === 0 && overlong) || line.length > MAX_LINE) lines.push(null);
            else lines.push(line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line);
            if (i === 0) {
              rest = '';
              overlong = false;
            }
          }
          const tail = parts[parts.length - 1];
          if (parts.length > 1) rest = tail;
          else if (!overlong) rest += tail;
          if (rest.length > MAX_LINE) {
            overlong = true;
            rest = '';
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
      if (overlong) yield [null];
      else if (rest !== '') yield [rest.endsWith('\r') ? rest.slice(0, -1) : rest];
    },
  };
}
