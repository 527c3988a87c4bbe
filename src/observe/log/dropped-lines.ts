// node:fs through process.getBuiltinModule, for the reason line-writer.ts gives.
const fs = process.getBuiltinModule('node:fs');

/**
 * How the line writer owns up to lines it lost: the count in a batch that did not make it,
 * the line that says how many were dropped, and the one line on stderr that says the
 * destination refuses writes. Reached only when lines are lost, never per line.
 */

export const NEWLINE = 0x0a;

/** The lines of a batch from `offset` on: what a write that failed there lost. */
export function linesFrom(bytes: Buffer, offset: number): number {
  let lines = 0;
  for (let at = bytes.indexOf(NEWLINE, offset); at !== -1; at = bytes.indexOf(NEWLINE, at + 1)) lines++;
  return lines;
}

/** The line a batch ends with when lines were dropped before it. */
export function droppedLinesNotice(gatewayName: string, dropped: number): string {
  return `{"level":"warn","time":"${new Date().toISOString()}","gateway":${JSON.stringify(gatewayName)},"dropped_lines":${dropped},"msg":"the log fell behind its destination, or it refused writes: lines were dropped"}\n`;
}

/**
 * The one line that says the log cannot be written, where it can still be read: stderr
 * (unless stderr is the destination itself: `fd` 2). The lines dropped meanwhile are counted
 * in the line written once the destination takes lines again, and in
 * candor_log_lines_dropped_total.
 */
export function sayRefusedOnStderr(fd: number, gatewayName: string, err: Error): void {
  if (fd === 2) return;
  const code = (err as NodeJS.ErrnoException).code ?? err.message;
  const line = `{"level":"error","time":"${new Date().toISOString()}","gateway":${JSON.stringify(gatewayName)},"err":${JSON.stringify(code)},"msg":"the log destination refuses writes: its lines are dropped and counted, and it is tried again with a backoff up to 30 s"}\n`;
  try {
    fs.writeSync(2, line);
  } catch {
    // stderr gone too: the count in the metrics is all there is.
  }
}
