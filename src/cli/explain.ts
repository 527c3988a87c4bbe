import { parseArgs } from 'node:util';
import { parseDuration } from '../config/units.ts';
import { type Deploy, readDeploys } from '../explain/deploys.ts';
import { READERS } from '../explain/detect-format.ts';
import { LogFormatError, readLogs } from '../explain/read-logs.ts';
import { renderText } from '../explain/render-text.ts';
import { buildReport } from '../explain/report.ts';
import { EXIT } from './exit-codes.ts';

export const EXPLAIN_HELP = `Usage: candor explain [options] LOG...

Reads access and error logs (Candor's JSON, nginx combined access and error logs, HAProxy
httplog; plain or gzipped; the format is detected per file) and tells the story of their 5xx.

  --json            the report as JSON, for machines
  --deploys FILE    deploy times, one a line: ISO-8601 time, then an optional label
  --bucket DURATION storm bucket size (default: adaptive, 1s to 1d)
  --format NAME     read every LOG as NAME (${READERS.map((r) => r.format).join(', ')})
`;

/** `candor explain LOG...`: returns the exit code. */
export async function runExplain(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      json: { type: 'boolean' },
      deploys: { type: 'string' },
      bucket: { type: 'string' },
      format: { type: 'string' },
      // Hidden: time and peak memory on stderr, for the 1 GB measurement.
      stats: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(EXPLAIN_HELP);
    return EXIT.ok;
  }
  if (positionals.length === 0)
    return usage('candor explain needs at least one log file: candor explain LOG...');
  const bucketMs = values.bucket === undefined ? undefined : parseDuration(values.bucket);
  if (values.bucket !== undefined && (bucketMs === undefined || bucketMs < 1000))
    return usage(`--bucket must be a duration of at least 1s, like 10s or 5m, got "${values.bucket}"`);
  if (values.format !== undefined && !READERS.some((r) => r.format === values.format))
    return usage(
      `--format must be one of ${READERS.map((r) => r.format).join(', ')}, got "${values.format}"`,
    );

  const started = performance.now();
  try {
    let deploys: Deploy[] = [];
    if (values.deploys !== undefined) {
      const read = await readDeploys(values.deploys);
      if (read.bad.length > 0)
        return usage(
          `${values.deploys}: line ${read.bad.join(', ')}: expected an ISO-8601 time, then an optional label`,
        );
      deploys = read.deploys;
    }
    const { tally, files } = await readLogs(positionals, { format: values.format, bucketMs });
    const report = buildReport(tally, files, deploys);
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderText(report));
    if (values.stats) {
      const lines = files.reduce((sum, f) => sum + f.lines, 0);
      const bytes = files.reduce((sum, f) => sum + f.bytes, 0);
      const seconds = (performance.now() - started) / 1000;
      const peak = process.resourceUsage().maxRSS / 1024;
      process.stderr.write(
        `explain: ${lines} lines, ${(bytes / 1048576).toFixed(0)} MiB in ${seconds.toFixed(1)} s (${(bytes / 1048576 / seconds).toFixed(0)} MiB/s), peak RSS ${peak.toFixed(0)} MiB\n`,
      );
    }
    return EXIT.ok;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof LogFormatError) return usage(err.message);
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'Z_DATA_ERROR')
      return usage((err as Error).message);
    throw err;
  }
}

function usage(message: string): number {
  process.stderr.write(`candor: ${message}\nRun "candor explain --help" for usage.\n`);
  return EXIT.usage;
}
