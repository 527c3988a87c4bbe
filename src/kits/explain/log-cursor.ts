import { type LineSource, MAX_LINE } from './line-stream.ts';
import type { LogReader } from './log-reader.ts';
import type { FiveXxSplit, LogRecord, NumberedLine } from './log-record.ts';

/** How many lines a file's report quotes of those it could not read. */
export const SKIPPED_QUOTED = 5;

/**
 * How far back in time a file's record may be from the latest one before it for the file to be
 * out of order. Not less: HAProxy and Envoy write each request when it ends, stamped with its
 * start, so a long request is logged after shorter ones that began later.
 */
const STEP_BACK_MS = 3_600_000;

/** One file being read: its records a batch at a time, the current one at `head`. */
export class LogCursor {
  readonly source: LineSource;
  readonly reader: LogReader;
  /** Whether the file that holds this one's causes was read too (see LogReader.causesIn). */
  causeKnown = true;
  /** Non-blank lines read. */
  lines = 0;
  /** Lines written in the format (whether or not they hold a record). */
  parsed = 0;
  records = 0;
  /** Lines longer than MAX_LINE (line-stream.ts): counted as skipped, never read. */
  tooLong = 0;
  /** Who produced this file's 5xx, filled by the tally. */
  readonly errors5xx: FiveXxSplit = { byProxy: 0, passedThrough: 0, cannotTell: 0 };
  /** The first SKIPPED_QUOTED lines not written in the format. */
  readonly skippedLines: NumberedLine[] = [];
  /**
   * Records more than STEP_BACK_MS older than the latest before them (rotated files concatenated
   * newest first): reading assumes each file is in time order, so their joins may be lost.
   */
  stepsBack = 0;
  /** The line of the first such record. */
  firstStepBack: number | undefined;
  #latest = Number.NEGATIVE_INFINITY;
  #lineNumber = 0;
  #batches: AsyncGenerator<Array<string | null>>;
  #records: LogRecord[] = [];
  #index = 0;
  #done = false;

  constructor(
    source: LineSource,
    reader: LogReader,
    batches: AsyncGenerator<Array<string | null>>,
    first: Array<string | null>,
  ) {
    this.source = source;
    this.reader = reader;
    this.#batches = batches;
    this.#parse(first);
  }

  /** Non-blank lines not written in the format. */
  get skipped(): number {
    return this.lines - this.parsed;
  }

  /** The current record, or undefined once the file is over. */
  get head(): LogRecord | undefined {
    return this.#records[this.#index];
  }

  /** Whether every line of the file was read. */
  get finished(): boolean {
    return this.#done && this.#index >= this.#records.length;
  }

  /** Moves to the next record; resolves once it is there (or the file is over). */
  next(): Promise<void> | undefined {
    this.#index++;
    return this.#index < this.#records.length ? undefined : this.#refill();
  }

  /** Makes sure `head` is set unless the file is over. */
  async ready(): Promise<void> {
    if (this.#index >= this.#records.length) await this.#refill();
  }

  async #refill(): Promise<void> {
    while (this.#index >= this.#records.length && !this.#done) {
      const batch = await this.#batches.next();
      if (batch.done) this.#done = true;
      else this.#parse(batch.value);
    }
  }

  #parse(lines: Array<string | null>): void {
    const records: LogRecord[] = [];
    const reader = this.reader;
    let parsed = 0;
    for (const line of lines) {
      this.#lineNumber++;
      if (line === null) {
        this.tooLong++;
        this.lines++;
        if (this.skippedLines.length < SKIPPED_QUOTED)
          this.skippedLines.push({
            line: this.#lineNumber,
            text: `(longer than ${MAX_LINE / 1024} KiB: not read)`,
          });
        continue;
      }
      if (line === '') continue;
      const record = reader.read(line);
      if (record !== undefined) {
        records.push(record);
        parsed++;
        if (record.time < this.#latest - STEP_BACK_MS) {
          this.stepsBack++;
          this.firstStepBack ??= this.#lineNumber;
        } else if (record.time > this.#latest) this.#latest = record.time;
      } else if (reader.sniff(line)) parsed++;
      else if (line.trim() === '') continue;
      else if (this.skippedLines.length < SKIPPED_QUOTED)
        this.skippedLines.push({ line: this.#lineNumber, text: line });
      this.lines++;
    }
    this.parsed += parsed;
    this.records += records.length;
    this.#records = records;
    this.#index = 0;
  }
}
