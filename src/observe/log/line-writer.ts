import { droppedLinesNotice, linesFrom, NEWLINE, sayRefusedOnStderr } from './dropped-lines.ts';
import { FlushWaiters, STALL_MS } from './flush-waiters.ts';
import type { GatewayName } from './gateway-name.ts';
import { LineBatch } from './line-batch.ts';
import {
  isFifo,
  isRegularFile,
  nonBlockingSwitch,
  openLogFile,
  privatePipeDescriptor,
  wholeLinesEnd,
  wholeWriteBytes,
} from './log-destination.ts';

/**
 * Milliseconds on a monotonic clock. Not performance.now(): the global `performance` loads
 * node:perf_hooks, which the cluster primary (it writes its event lines here) has no other
 * use for (workers.ts and idle-trim.ts read the same clock for the same reason).
 */
const nowMs = (): number => process.uptime() * 1000;

// node:fs through process.getBuiltinModule, not an import: imported as an ES module it loads
// fs/promises, its streams and readline as well, about 1 MiB of the cluster primary's memory
// (test/server/cli/lean-processes.test.ts).
const fs = process.getBuiltinModule('node:fs');

/**
 * A file written less than this long ago takes the lines of the turns that follow in its next
 * write, this long after the first of them at most: a turn that serves one request (a new
 * connection per request at full load) would otherwise cost a write(2) per request.
 */
export const FILE_BATCH_MS = 5;
/** A synchronous write slower than this sends the file to the asynchronous path for a while. */
const SLOW_WRITE_MS = 20;
/** How long a file that was slow to write stays on the asynchronous path. */
const SLOW_DISK_BACKOFF_MS = 30_000;
/** The first wait before a destination that refused a write is tried again; it doubles from there. */
const FIRST_RETRY_MS = 250;
/** The longest wait between two tries of a destination that keeps refusing. */
const MAX_RETRY_MS = 30_000;
/** What a batch after one a failed write stopped mid-line starts with: the end of that line. */
const TORN_LINE_END = Buffer.from('\n');
/**
 * Where every log line goes: a queue, written out in batches (the queue holds the lines as the
 * bytes the write takes: line-batch.ts).
 *
 * - A regular file takes one synchronous write at the end of an event-loop turn, carrying
 *   every line queued since the last (as nginx writes its access log: straight from the
 *   worker); a turn less than FILE_BATCH_MS after the last write leaves its lines to the next,
 *   which a timer makes FILE_BATCH_MS later if no turn does it first. An
 *   asynchronous write goes through libuv's thread pool: a futex wake-up and two context
 *   switches per batch, on the very core the gateway runs on — more than the write itself
 *   costs when it lands in the page cache. A disk that makes one of those writes slow
 *   (writeback throttling, a network file system) would stall every request: the file then
 *   goes the asynchronous way for 30 s before it is tried again, one write at a time, batched
 *   as the direct ones are (a write per request through the pool cost a request some 7 µs).
 * - A pipe on a descriptor of the writer's own, non-blocking (stdout to a collector, a named
 *   pipe as the file: ownPipe), takes a turn's lines at its end as a file does, in pieces of
 *   whole lines a pipe keeps whole beside the other processes' (log-destination.ts's
 *   wholeWriteBytes); a full pipe is tried again 5 ms later.
 * - A socket or terminal, whose blocking flag other processes share and may set under a write:
 *   one asynchronous write at a time drains the queue, each taking what was queued since the
 *   last (pieces of whole lines on a socket).
 *
 * Why not pino's own destination: it writes at most 16 KiB per round trip through the
 * thread pool, so a busy event loop caps the log at a few MB/s, and the lines behind the cap
 * pile up in memory without bound — under 6,000 requests/s that was 1.5 MB more RSS every
 * second. Here the backlog is bounded: lines beyond `maxBacklog` bytes are dropped and
 * counted, and the count is written as a line of its own once the writer catches up.
 *
 * A destination that refuses a write (a pipe whose reader left: a log shipper or journald
 * restarting; a full disk) loses the lines of that batch, counted the same way, and is then
 * left alone: said once on stderr, tried again after 250 ms, doubling to 30 s, while new
 * lines wait in the same bounded backlog. Retrying at once would spin: every failed batch
 * owes a "lines were dropped" notice, whose write fails in turn.
 */
export class LineWriter {
  private fd: number;
  /** The path a file writer was opened at: reopen() opens it again after a rotation. */
  private file: string | undefined;
  /** Descriptors replaced by reopen() while an asynchronous write may still use them. */
  private retired: number[] = [];
  private readonly maxBacklog: number;
  /** The gateway's name in the writer's own lines: its logger's box, which a reload renames. */
  private readonly gateway: Readonly<GatewayName>;
  /** A regular file: written synchronously, once per event-loop turn (unless it was slow). */
  private readonly isFile: boolean;
  private direct: boolean;
  /** When a file sent to the asynchronous path by a slow write is tried synchronously again. */
  private directAgainAt = 0;
  /** A write of the queue is scheduled: at the end of this turn, or by the batch timer. */
  private turnScheduled = false;
  /** When a file was last written (nowMs()). */
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  /** Writes the lines left by turns too soon after the last write (made at the first, then refreshed). */
  private batchTimer: NodeJS.Timeout | undefined;
  private readonly batchMs: number;
  private readonly slowWriteMs: number;
  private readonly queue = new LineBatch();
  private writing = false;
  /** When the write in flight was issued, or last wrote part of its batch (nowMs()). */
  private writeProgressAt = 0;
  /** When a pipe's or socket's write(2) now in the thread pool was issued (nowMs()); undefined between writes (an EAGAIN's wait). */
  private inKernelSince: number | undefined;
  private dropped = 0;
  /** Every line dropped since the writer was made (candor_log_lines_dropped_total). */
  private droppedTotal = 0;
  /** While the destination refuses writes: the next try. */
  private retryTimer: NodeJS.Timeout | undefined;
  /** The wait before the next try, 0 while writes succeed. */
  private retryDelay = 0;
  /** A failed write stopped mid-line: the next batch starts on a line of its own. */
  private torn = false;
  private readonly waiters = new FlushWaiters(() =>
    this.writing ? nowMs() - this.writeProgressAt : undefined,
  );
  /** stdout or stderr on a socket (a pipe gets a descriptor of its own): sets it non-blocking again (see nonBlockingSwitch). */
  private readonly nonBlocking: (() => void) | undefined;
  /** The descriptor the writer was given (1: stdout, 2: stderr), whichever it writes through. */
  private readonly destination: number;
  /** The most one write carries, for its lines to arrive whole beside other processes' (wholeWriteBytes). */
  private readonly wholeWrite: number;
  /**
   * A pipe on a descriptor of the writer's own, non-blocking (stdout's private one, a named pipe
   * as the log file): written synchronously, a turn's lines at its end as a file is, in pieces
   * of whole lines; a full pipe is tried again in 5 ms. Through the thread pool, as a shared
   * description must be (its flag may be flipped to blocking under the write), each 4 KiB piece
   * would cost a round trip: two to three times the CPU a line.
   */
  private ownPipe = false;

  /** `batchMs`: FILE_BATCH_MS unless a test needs it longer; `slowWriteMs`: SLOW_WRITE_MS unless a test needs every write slow. */
  constructor(
    fd: number,
    maxBacklog: number,
    gateway: Readonly<GatewayName>,
    batchMs = FILE_BATCH_MS,
    slowWriteMs = SLOW_WRITE_MS,
  ) {
    this.fd = fd;
    this.destination = fd;
    this.batchMs = batchMs;
    this.slowWriteMs = slowWriteMs;
    this.maxBacklog = maxBacklog;
    this.gateway = gateway;
    this.isFile = isRegularFile(fd);
    this.direct = this.isFile;
    if (!this.isFile) {
      const own = privatePipeDescriptor(fd);
      if (own === undefined) this.nonBlocking = nonBlockingSwitch(fd);
      else this.fd = own;
      this.ownPipe = own !== undefined;
    }
    this.wholeWrite = wholeWriteBytes(this.fd);
    // At once, not at the first line: see keepNonBlocking.
    this.keepNonBlocking();
  }

  /**
   * Sets stdout or stderr on a socket non-blocking again (nothing for any other destination).
   * Every child started with the descriptor as its stdio is made blocking by libuv between its
   * fork and its exec, and a Node child takes the flag it starts with as the one to put back at
   * its exit: the cluster primary calls this when a worker has been forked, so that the worker
   * starts with the flag set and leaves it set when it ends, instead of making the description
   * blocking under the other workers' writes (a write begun then blocks its thread for as long as
   * the reader does not read).
   */
  keepNonBlocking(): void {
    this.nonBlocking?.();
  }

  /**
   * How long the write(2) in the thread pool has been in the kernel (ms), undefined while none
   * is. A non-blocking write returns at once; one there for STALL_MS is blocked, because another
   * process made the shared description blocking between this writer's switch and its write,
   * and its reader does not read. libuv joins its thread-pool threads when the process exits:
   * such a process cannot end by itself (end-process.ts ends it past the write).
   */
  get inKernelFor(): number | undefined {
    return this.inKernelSince === undefined ? undefined : nowMs() - this.inKernelSince;
  }

  /** Opens (appending, creating its folder) the file a writer writes to. */
  static open(
    file: string,
    maxBacklog: number,
    gateway: Readonly<GatewayName>,
    batchMs = FILE_BATCH_MS,
    slowWriteMs = SLOW_WRITE_MS,
  ): LineWriter {
    const writer = new LineWriter(openLogFile(file), maxBacklog, gateway, batchMs, slowWriteMs);
    writer.file = file;
    // A named pipe as the log file: openLogFile opened it non-blocking.
    writer.ownPipe = isFifo(writer.fd);
    return writer;
  }

  /**
   * Opens the file again at its path (SIGUSR1, after logrotate moved it away): lines queued
   * so far go to the old file, later ones to a fresh one. A file that cannot be opened keeps
   * the old one, and the error is returned (a named pipe nobody reads now too: ENXIO, not a wait
   * on the gateway's loop). Does nothing for stdout and stderr.
   */
  reopen(): { file: string } | { file: string; error: Error } | undefined {
    const file = this.file;
    if (file === undefined) return undefined;
    let fd: number;
    try {
      fd = openLogFile(file, false);
    } catch (err) {
      return { file, error: err as Error };
    }
    if (this.direct) this.flushSync();
    this.retired.push(this.fd);
    this.fd = fd;
    // A write in flight still holds the old descriptor: it is closed once that write is done.
    if (!this.writing) this.closeRetired();
    return { file };
  }

  private closeRetired(): void {
    for (const fd of this.retired.splice(0)) {
      try {
        fs.closeSync(fd);
      } catch {
        // Already gone: nothing to release.
      }
    }
  }

  /** Queues one line (newline included). False when it was dropped: the backlog is full. */
  write(line: string): boolean {
    if (this.queue.length + line.length > this.maxBacklog) {
      this.dropped++;
      this.droppedTotal++;
      return false;
    }
    this.queue.add(line);
    this.queued();
    return true;
  }

  /**
   * Starts a line built in place in the queue (the access line: access-log.ts); closeLine()
   * queues it. Nothing may be written in between.
   */
  openLine(): LineBatch {
    this.queue.openLine();
    return this.queue;
  }

  /** Queues the line begun by openLine(). False when it was dropped: the backlog is full. */
  closeLine(): boolean {
    if (this.queue.length > this.maxBacklog) {
      this.queue.dropLine();
      this.dropped++;
      this.droppedTotal++;
      return false;
    }
    this.queued();
    return true;
  }

  /** A line was queued: its write is scheduled. */
  private queued(): void {
    // A destination that refused the last write waits for its retry: nothing to do until then.
    if (this.retryTimer !== undefined) return;
    if (this.isFile || this.ownPipe) this.scheduleTurn();
    else if (!this.writing) this.writeQueued();
  }

  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    setImmediate(this.endOfTurn);
  }

  private readonly endOfTurn = (): void => {
    const started = nowMs();
    if (started - this.lastWriteAt < this.batchMs) {
      // Still scheduled: the lines of the turns until then wait for the timer, not a turn each.
      if (this.batchTimer === undefined) this.batchTimer = setTimeout(this.endOfBatch, this.batchMs).unref();
      else this.batchTimer.refresh();
      return;
    }
    this.writeTurn(started);
  };

  private readonly endOfBatch = (): void => {
    this.writeTurn(nowMs());
  };

  private writeTurn(started: number): void {
    this.turnScheduled = false;
    // (flush() may have written them since; a refused write's retry writes them.)
    if (this.retryTimer !== undefined || (this.queue.length === 0 && this.dropped === 0)) return;
    if (!this.direct) {
      // A file that was slow to write: through the thread pool, batched as the direct writes
      // are (a round trip per request would cost each a futex wake-up and two context switches).
      // One still in flight takes these lines in the next batch, once it is done.
      if (this.writing) return;
      this.lastWriteAt = started;
      return this.writeQueued();
    }
    this.lastWriteAt = started;
    this.flushSync();
    if (nowMs() - started > this.slowWriteMs) {
      this.direct = false;
      this.directAgainAt = nowMs() + SLOW_DISK_BACKOFF_MS;
    }
  }

  /** Lines dropped since the writer was made: the backlog was full, or the destination refused them. */
  get linesDropped(): number {
    return this.droppedTotal;
  }

  /**
   * Calls back once everything queued so far is written (pino's logger.flush uses it), or at
   * once with the error while the destination refuses writes: a drain does not wait on it.
   */
  flush(callback?: (err?: Error) => void): void {
    if (this.retryTimer !== undefined) {
      callback?.(new Error('the log destination refuses writes'));
      return;
    }
    if (this.direct) this.flushSync();
    if (!this.writing && this.queue.length === 0 && this.dropped === 0) {
      callback?.();
      return;
    }
    if (callback) this.waiters.add(callback);
    // Asked for: lines waiting for their batch go now (the drain, the exit).
    if (!this.writing) this.writeQueued();
  }

  /** A pipe's write in flight that has not moved for STALL_MS: its reader stopped reading. */
  private get stalled(): boolean {
    return this.writing && !this.isFile && nowMs() - this.writeProgressAt >= STALL_MS;
  }

  /** Writes what is queued, synchronously: a file's turn, and the last lines before the process exits. */
  flushSync(): void {
    if (this.queue.length === 0 && this.dropped === 0) return;
    // A synchronous write would block behind the stalled one, for ever if nobody reads again.
    if (this.stalled) return;
    const carried = this.dropped;
    const bytes = this.takeQueued(false);
    let offset = 0;
    // (A sibling's exit or fork may have made the shared description blocking since the last write.)
    this.nonBlocking?.();
    try {
      while (offset < bytes.length)
        offset += fs.writeSync(this.fd, bytes, offset, this.pieceEnd(bytes, offset) - offset);
    } catch (err) {
      // A log that cannot be written must not take the gateway down (or keep it from
      // exiting): what was not written is lost, and counted for the next line that can be.
      this.lost(bytes, offset, carried);
      this.refused(err as Error);
      return;
    }
    this.accepted();
    // Waiters from a spell on the asynchronous path, whose last lines this write took.
    if (!this.writing && this.waiters.waiting) this.waiters.release();
  }

  /** A write failed (not for a full pipe): the destination is left alone until its retry. */
  private refused(err: Error): void {
    if (this.retryDelay === 0) sayRefusedOnStderr(this.destination, this.gateway.name, err);
    this.retryDelay = this.retryDelay === 0 ? FIRST_RETRY_MS : Math.min(MAX_RETRY_MS, this.retryDelay * 2);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(this.retry, this.retryDelay).unref();
  }

  /** A write went through: the destination takes lines again. */
  private accepted(): void {
    this.retryDelay = 0;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private readonly retry = (): void => {
    this.retryTimer = undefined;
    if (this.queue.length === 0 && this.dropped === 0) {
      // Nothing to try it with: the next line will.
      this.retryDelay = 0;
      return;
    }
    if (this.direct) this.flushSync();
    else if (!this.writing) this.writeQueued();
  };

  /** Counts the lines of a batch from `offset` on as dropped (the batch's own notice carried `carried`). */
  private lost(bytes: Buffer, offset: number, carried: number): void {
    const lines = linesFrom(bytes, offset);
    // The notice at the batch's end did not make it either: its count is still owed.
    const notice = carried > 0 ? 1 : 0;
    this.dropped += carried + lines - notice;
    this.droppedTotal += lines - notice;
    if (offset > 0 && bytes[offset - 1] !== NEWLINE) this.torn = true;
  }

  /** What is queued, as one write's bytes; `held`: an asynchronous write's (LineBatch.take). */
  private takeQueued(held: boolean): Buffer {
    if (this.dropped > 0) {
      this.queue.add(droppedLinesNotice(this.gateway.name, this.dropped));
      this.dropped = 0;
    }
    const bytes = this.queue.take(held);
    if (!this.torn) return bytes;
    this.torn = false;
    return Buffer.concat([TORN_LINE_END, bytes]);
  }

  private writeQueued(): void {
    this.writing = true;
    this.writeProgressAt = nowMs();
    const carried = this.dropped;
    this.writeBytes(this.fd, this.takeQueued(true), 0, carried);
  }

  /**
   * Where the next write of a batch ends: a file takes the whole batch (appended whole, as one
   * write: O_APPEND; its wholeWrite is unbounded), a pipe or socket pieces of whole lines
   * (wholeWriteBytes says why).
   */
  private pieceEnd(bytes: Buffer, offset: number): number {
    return wholeLinesEnd(bytes, offset, this.wholeWrite);
  }

  /** `fd` is fixed per batch: a batch begun before a reopen() ends in the file it began in. */
  private writeBytes(fd: number, bytes: Buffer, offset: number, carried: number): void {
    if (this.ownPipe) return this.writePieces(fd, bytes, offset, carried);
    this.nonBlocking?.();
    // (A file's write returns, however slow the disk: only a pipe's or socket's can wait for ever.)
    if (!this.isFile) this.inKernelSince = nowMs();
    fs.write(fd, bytes, offset, this.pieceEnd(bytes, offset) - offset, null, (err, written) => {
      this.inKernelSince = undefined;
      this.wrote(fd, bytes, offset, carried, err, written ?? 0);
    });
  }

  /** A pipe of the writer's own (ownPipe): as many pieces as it takes now, each returning at once. */
  private writePieces(fd: number, bytes: Buffer, offset: number, carried: number): void {
    let written = 0;
    try {
      for (let at = offset; at < bytes.length; at = offset + written) {
        written += fs.writeSync(fd, bytes, at, this.pieceEnd(bytes, at) - at);
      }
    } catch (err) {
      return this.wrote(fd, bytes, offset, carried, err as Error, written);
    }
    this.wrote(fd, bytes, offset, carried, null, written);
  }

  /** A write of a batch's bytes from `offset` on is done: `written` of them went, then `err` if any. */
  private wrote(
    fd: number,
    bytes: Buffer,
    offset: number,
    carried: number,
    err: Error | null,
    written: number,
  ): void {
    if (written > 0) this.writeProgressAt = nowMs();
    const next = offset + written;
    if (err && (err as NodeJS.ErrnoException).code === 'EAGAIN') {
      // A non-blocking pipe (stdout to a slow reader) is full: try again shortly.
      setTimeout(() => this.writeBytes(fd, bytes, next, carried), 5).unref();
      return;
    }
    // Any other error loses the rest of this batch: logging must never take the gateway down.
    if (err) {
      this.lost(bytes, next, carried);
      this.refused(err);
    } else {
      if (next < bytes.length) return this.writeBytes(fd, bytes, next, carried);
      this.accepted();
      // A pipe's next batch goes at once; a file's at its next turn, FILE_BATCH_MS after this one began.
      if (!this.isFile && (this.queue.length > 0 || this.dropped > 0)) return this.writeQueued();
    }
    this.writing = false;
    this.closeRetired();
    // A file that was slow to write gets the synchronous path back once it has had a rest.
    if (this.isFile && nowMs() >= this.directAgainAt) this.direct = true;
    if (this.retryTimer === undefined && (this.queue.length > 0 || this.dropped > 0)) {
      // A file's lines that came while it was written: the flush waiters wait on for them.
      this.scheduleTurn();
      return;
    }
    this.waiters.release();
  }
}
