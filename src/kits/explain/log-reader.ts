import type { LogRecord } from './log-record.ts';

/**
 * A log format reader: the one pluggable part of `explain`. Every reader maps its lines onto
 * the failure taxonomy's types and shares one contract test (test/kits/explain/reader-contract.test.ts).
 */
export interface LogReader {
  /** Stable id, used by `--format` and in the JSON report: "nginx-access". */
  readonly format: string;
  /** For people: "nginx access log (combined)". */
  readonly title: string;
  /** Whether a line is written in this format; detection asks it of a file's first lines. */
  sniff(line: string): boolean;
  /**
   * The record a line holds, or undefined for a line about anything else (a startup notice, a
   * blank or foreign line). Never throws.
   */
  read(line: string): LogRecord | undefined;
  /**
   * The format whose lines give this one's causes (nginx's error log for its access log): a
   * line's word that the upstream produced its 5xx (`producedBy`) stands only when such a file
   * was read and none of its lines is the request's; otherwise the 5xx is "cannot tell".
   * Formats whose lines name their failure leave it out.
   */
  readonly causesIn?: string;
  /**
   * Why a file whose first lines are `sample` cannot be read in this format though it is
   * written in it (HAProxy's stderr without times), or undefined when it can.
   */
  refuse?(sample: readonly string[]): string | undefined;
  /**
   * A reader that reads only some of a file's lines (HAProxy's health lines among access lines
   * in a format it was not given): such a file is not refused for the rest, which are counted
   * as skipped and quoted in the report with this, which says how to read them.
   */
  readonly partial?: string;
  /** What this format cannot say, told once in the report when a file of it was read. */
  readonly blindSpot?: string;
}
