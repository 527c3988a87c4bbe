import { close, read, writev } from 'node:fs';
import type { OverflowedAnswer, OverflowOutlet } from './answer-overflow.ts';

/**
 * Upstream bytes held in memory on their way to the file, at most, before the upstream is
 * paused (a disk slower than the upstream, or a file with no room left): a few reads' worth.
 */
const QUEUE_BYTES = 256 * 1024;

/** One write to the file gathers this much at most; one read back takes this much at most. */
const WRITE_BYTES = 256 * 1024;
const READ_BYTES = 64 * 1024;

/** The disk a spool's file takes its room from (spool-space.ts). */
export interface SpoolDisk {
  /** One response's file grows to this at most (`limits.spool.max_response`). */
  readonly maxAnswer: number;
  /** A new file's descriptor, unlinked already. */
  open(): Promise<number>;
  /** Takes `bytes` of the total for a file that grows; false when the total has no room for them. */
  reserve(bytes: number): boolean;
  release(bytes: number): void;
  /** A write to the file failed (a full disk), or no file could be made: the operator hears of it. */
  writeFailed(error: Error): void;
  /** A spool of `route`'s response closed, `bytes` having gone through its file (the metrics). */
  spooled(route: string, bytes: number): void;
}

/** A closed spool's outlet: it tells no one anything. */
const NO_OUTLET: OverflowOutlet = {
  send: () => true,
  resume: () => {},
  failed: () => {},
  wrote: () => {},
};

/**
 * A response its client reads slower than the upstream sends, past `routes[].limits.buffer`
 * (nginx's proxy_temp_path): what the client cannot take yet goes to a file and reaches it
 * from there, so the upstream connection goes back to its pool once the upstream has sent the
 * whole body, not once a slow reader has taken it.
 *
 * The bytes keep their order: the file's unread part goes out first, then what waits in
 * memory. A client that catches up is fed from memory again (the disk is only for what has to
 * wait), and the file is written again from its start. The file grows to `limits.spool.max_response`
 * at most and takes its bytes from the process's `max_total`; with no room (or no file: the
 * directory could not be written; or a write failed: a full disk), the upstream is paused at
 * once until the client reads: the behaviour without a spool, where `limits.send_timeout` cuts a
 * client that takes nothing (what came while the file was being opened waits in memory).
 *
 * What it holds in memory: QUEUE_BYTES from the upstream, READ_BYTES read back, plus what the
 * exchange lets the client's socket hold (`limits.buffer`).
 */
export class AnswerSpool implements OverflowedAnswer {
  readonly #space: SpoolDisk;
  readonly #route: string;
  /** The response's backpressure (client-backpressure.ts); once closed, NO_OUTLET (a file open or write still in flight would hold the request otherwise). */
  #outlet: OverflowOutlet;
  #fd: number | undefined;
  /** Upstream chunks not yet in the file (or sent from memory), and their bytes (a write's in flight included). */
  readonly #queue: Buffer[] = [];
  #queued = 0;
  #writing = false;
  /** A write failed (a full disk): the file is only read from now on, what comes waits in memory. */
  #writeFailed = false;
  /** No file could be made (the directory cannot be written): what comes waits in memory. */
  #noFile = false;
  /** The file took no more at the last try: past `max_response`, or `max_total` has no room. */
  #noRoom = false;
  #reading = false;
  /** The file's bytes [read, written) wait for the client. */
  #written = 0;
  #read = 0;
  /** The file's size, taken from the space. */
  #extent = 0;
  /** The client holds its buffer's worth: wait for pump(). */
  #clientFull = true;
  /** The upstream was paused by add(): resume() it when the queue has room. */
  #upstreamPaused = false;
  #whenDrained: (() => void) | undefined;
  #closed = false;
  /** Bytes that went through the file (the log's `spooled`). */
  #spooled = 0;

  constructor(space: SpoolDisk, outlet: OverflowOutlet, route: string) {
    this.#space = space;
    this.#route = route;
    this.#outlet = outlet;
    space.open().then(
      (fd) => {
        if (this.#closed) return close(fd, () => {});
        this.#fd = fd;
        this.#step();
      },
      // No file (a directory that cannot be made or written): the queue is the whole spool (held
      // in memory, bounded, as without one), and the operator is told as of a failed write, since
      // every response meets the same directory: spooling is off until it is fixed.
      (err: Error) => {
        this.#noFile = true;
        space.writeFailed(err);
      },
    );
  }

  /** The upstream is paused until what waits in memory goes on (to the client, or the file). */
  get pausesUpstream(): boolean {
    return this.#upstreamPaused;
  }

  /** The next upstream chunk. False: pause the upstream; resume() comes when it may send again. */
  add(chunk: Buffer): boolean {
    if (this.#closed) return true;
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    this.#step();
    if (this.#queued <= this.#queueBound()) return true;
    this.#upstreamPaused = true;
    return false;
  }

  /**
   * What may wait in memory before the upstream is paused: QUEUE_BYTES on their way to the file;
   * none when the file takes nothing (no room, no file, a failed write), so that past the
   * spool's bounds the upstream waits for the client as without a spool, not QUEUE_BYTES later.
   */
  #queueBound(): number {
    return this.#noRoom || this.#noFile || this.#writeFailed ? 0 : QUEUE_BYTES;
  }

  /** The client's socket drained: send on. */
  pump(): void {
    this.#clientFull = false;
    this.#step();
  }

  /** The upstream sent everything: `drained` runs once the last byte went to the client's socket (the file is closed then). */
  end(drained: () => void): void {
    this.#whenDrained = drained;
    this.#step();
  }

  /** The response is over (whole, cut or left): the file goes, its bytes go back to the space, and what went through it is counted. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#outlet = NO_OUTLET;
    this.#queue.length = 0;
    this.#queued = 0;
    this.#closeFile();
    if (this.#spooled > 0) this.#space.spooled(this.#route, this.#spooled);
  }

  #closeFile(): void {
    if (this.#fd === undefined || this.#writing || this.#reading) return;
    close(this.#fd, () => {});
    this.#fd = undefined;
    this.#space.release(this.#extent);
    this.#extent = 0;
  }

  /** Moves what can move: file to client, memory to client or file, and the upstream on. */
  #step(): void {
    if (this.#closed) return;
    // Caught up with the file: its next bytes go from its start again.
    if (this.#read === this.#written && !this.#reading && !this.#writing) this.#read = this.#written = 0;
    if (!this.#clientFull) this.#feedClient();
    if (this.#closed) return;
    this.#feedFile();
    if (this.#upstreamPaused && this.#queued <= this.#queueBound()) {
      this.#upstreamPaused = false;
      this.#outlet.resume();
    }
    if (
      this.#whenDrained !== undefined &&
      this.#queued === 0 &&
      this.#read === this.#written &&
      !this.#reading &&
      !this.#writing
    ) {
      const drained = this.#whenDrained;
      this.#whenDrained = undefined;
      this.close();
      drained();
    }
  }

  #feedClient(): void {
    if (this.#read < this.#written) {
      if (!this.#reading) this.#readBack();
      return;
    }
    // Nothing in the file ahead of the queue: the client takes it from memory.
    if (this.#writing) return;
    while (this.#queue.length > 0 && !this.#clientFull) {
      const chunk = this.#queue.shift() as Buffer;
      this.#queued -= chunk.length;
      if (!this.#outlet.send(chunk)) this.#clientFull = true;
      if (this.#closed) return;
    }
  }

  /** What the client cannot take now goes to the file, as room allows. */
  #feedFile(): void {
    if (this.#fd === undefined || this.#writing || this.#writeFailed || this.#queue.length === 0) return;
    if (!this.#clientFull && this.#read === this.#written) return;
    const chunks: Buffer[] = [];
    let bytes = 0;
    for (const chunk of this.#queue) {
      if (chunks.length > 0 && bytes + chunk.length > WRITE_BYTES) break;
      chunks.push(chunk);
      bytes += chunk.length;
    }
    const end = this.#written + bytes;
    this.#noRoom =
      end > this.#extent && (end > this.#space.maxAnswer || !this.#space.reserve(end - this.#extent));
    if (this.#noRoom) return;
    this.#extent = Math.max(this.#extent, end);
    this.#writing = true;
    const at = this.#written;
    writev(this.#fd, chunks, at, (err, n) => {
      this.#writing = false;
      if (this.#closed) return this.#closeFile();
      // Nothing of this write counts (the bytes stay queued, the file is read up to #written
      // only): the response goes on from memory, as without room on the disk.
      if (err !== null || n !== bytes) {
        this.#writeFailed = true;
        this.#space.release(this.#extent - this.#written);
        this.#extent = this.#written;
        this.#space.writeFailed(err ?? new Error(`short write to the spool file (${n} of ${bytes} bytes)`));
        return this.#step();
      }
      this.#queue.splice(0, chunks.length);
      this.#queued -= bytes;
      this.#written = at + bytes;
      this.#spooled += bytes;
      this.#outlet.wrote(bytes);
      this.#step();
    });
  }

  #readBack(): void {
    const length = Math.min(READ_BYTES, this.#written - this.#read);
    const into = Buffer.allocUnsafe(length);
    this.#reading = true;
    read(this.#fd as number, into, 0, length, this.#read, (err, n) => {
      this.#reading = false;
      if (this.#closed) return this.#closeFile();
      if (err !== null || n !== length)
        return this.#fail(err ?? new Error(`short read from the spool file (${n} of ${length} bytes)`));
      this.#read += n;
      if (!this.#outlet.send(into)) this.#clientFull = true;
      this.#step();
    });
  }

  #fail(error: Error): void {
    const outlet = this.#outlet;
    this.close();
    outlet.failed(`response spool failed: ${error.message}`, error);
  }
}
