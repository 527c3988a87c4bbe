import type { LineSource } from './line-stream.ts';
import type { LogReader } from './log-reader.ts';
import type { LogRecord } from './log-record.ts';

/** One file being read: its records a batch at a time, the current one at `head`. */
export class LogCursor {
  readonly source: LineSource;
  readonly reader: LogReader;
  /** Whether its 5xx without a failure are the upstream's own (see LogReader.causesIn). */
  causeKnown = true;
  lines = 0;
  records = 0;
  #batches: AsyncGenerator<string[]>;
  #records: LogRecord[] = [];
  #index = 0;
  #done = false;

  constructor(source: LineSource, reader: LogReader, batches: AsyncGenerator<string[]>, first: string[]) {
    this.source = source;
    this.reader = reader;
    this.#batches = batches;
    this.#parse(first);
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

  #parse(lines: string[]): void {
    const records: LogRecord[] = [];
    const reader = this.reader;
    for (const line of lines) {
      if (line === '') continue;
      this.lines++;
      const record = reader.read(line);
      if (record !== undefined) records.push(record);
    }
    this.records += records.length;
    this.#records = records;
    this.#index = 0;
  }
}
