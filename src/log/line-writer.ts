import fs from 'node:fs';
import path from 'node:path';

/**
 * Where every log line goes: a queue, written out in batches.
 *
 * - A regular file takes one synchronous write at the end of each event-loop turn, carrying
 *   every line of that turn (as nginx writes its access log: straight from the worker). An
 *   asynchronous write goes through libuv's thread pool: a futex wake-up and two context
 *   switches per batch, on the very core the gateway runs on — more than the write itself
 *   costs when it lands in the page cache.
 * - A pipe or terminal (stdout to a collector) can block: there one asynchronous write at a
 *   time drains the queue, each write taking everything queued since the last.
 *
 * Why not pino's own destination: it writes at most 16 KiB per round trip through the
 * thread pool, so a busy event loop caps the log at a few MB/s, and the lines behind the cap
 * pile up in memory without bound — under 6,000 requests/s that was 1.5 MB more RSS every
 * second. Here the backlog is bounded: lines beyond `maxBacklog` bytes are dropped and
 * counted, and the count is written as a line of its own once the writer catches up. A file
 * that refuses a write (disk full) loses that batch, counted the same way.
 */
export class LineWriter {
  private readonly fd: number;
  /** A regular file: written synchronously, once per event-loop turn. */
  private readonly direct: boolean;
  private turnScheduled = false;
  private readonly maxBacklog: number;
  private readonly gatewayName: string;
  private queue: string[] = [];
  private queued = 0;
  private writing = false;
  private dropped = 0;
  private waiters: (() => void)[] = [];

  constructor(fd: number, maxBacklog: number, gatewayName: string) {
    this.fd = fd;
    this.maxBacklog = maxBacklog;
    this.gatewayName = gatewayName;
    this.direct = isRegularFile(fd);
  }

  /** Opens (appending, creating its folder) the file a writer writes to. */
  static open(file: string, maxBacklog: number, gatewayName: string): LineWriter {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    return new LineWriter(fs.openSync(file, 'a'), maxBacklog, gatewayName);
  }

  /** Queues one line (newline included). False when it was dropped: the backlog is full. */
  write(line: string): boolean {
    if (this.queued + line.length > this.maxBacklog) {
      this.dropped++;
      return false;
    }
    this.queue.push(line);
    this.queued += line.length;
    if (this.direct) {
      if (!this.turnScheduled) {
        this.turnScheduled = true;
        setImmediate(this.endOfTurn);
      }
    } else if (!this.writing) {
      this.writeQueued();
    }
    return true;
  }

  private readonly endOfTurn = (): void => {
    this.turnScheduled = false;
    this.flushSync();
  };

  /** Calls back once everything queued so far is written (pino's logger.flush uses it). */
  flush(callback?: (err?: Error) => void): void {
    if (this.direct) this.flushSync();
    if (!this.writing && this.queue.length === 0) {
      callback?.();
      return;
    }
    if (callback) this.waiters.push(() => callback());
  }

  /** Writes what is queued, synchronously: a file's turn, and the last lines before the process exits. */
  flushSync(): void {
    if (this.queue.length === 0 && this.dropped === 0) return;
    const lines = this.queue.length + this.dropped;
    const bytes = Buffer.from(this.takeQueued());
    try {
      for (let offset = 0; offset < bytes.length; ) offset += fs.writeSync(this.fd, bytes, offset);
    } catch {
      // A log that cannot be written must not take the gateway down (or keep it from
      // exiting): the batch is lost, and counted for the next line that can be written.
      this.dropped += lines;
    }
  }

  private takeQueued(): string {
    let text = this.queue.length === 1 ? this.queue[0] : this.queue.join('');
    if (this.dropped > 0) {
      text += `{"level":"warn","time":"${new Date().toISOString()}","gateway":${JSON.stringify(this.gatewayName)},"dropped_lines":${this.dropped},"msg":"the log fell behind the disk: lines were dropped"}\n`;
      this.dropped = 0;
    }
    this.queue = [];
    this.queued = 0;
    return text;
  }

  private writeQueued(): void {
    this.writing = true;
    this.writeBytes(Buffer.from(this.takeQueued()), 0);
  }

  private writeBytes(bytes: Buffer, offset: number): void {
    fs.write(this.fd, bytes, offset, bytes.length - offset, null, (err, written) => {
      if (err && (err as NodeJS.ErrnoException).code === 'EAGAIN') {
        // A non-blocking pipe (stdout to a slow reader) is full: try again shortly.
        setTimeout(() => this.writeBytes(bytes, offset), 5).unref();
        return;
      }
      // Any other error loses this batch: logging must never take the gateway down.
      if (!err && offset + written < bytes.length) return this.writeBytes(bytes, offset + written);
      if (this.queue.length > 0 || this.dropped > 0) return this.writeQueued();
      this.writing = false;
      const waiters = this.waiters;
      this.waiters = [];
      for (const waiter of waiters) waiter();
    });
  }
}

function isRegularFile(fd: number): boolean {
  try {
    return fs.fstatSync(fd).isFile();
  } catch {
    return false;
  }
}
