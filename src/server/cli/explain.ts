import {
  accessSync,
  constants,
  createWriteStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { readErrorReason } from '../../core/config/read-error.ts';
import { parseDuration } from '../../core/config/units.ts';
import { printable, strictJson } from '../../core/printable.ts';
import { type Deploy, readDeploys } from '../../kits/explain/deploys.ts';
import { READERS } from '../../kits/explain/detect-format.ts';
import { HaproxyConfError, parseHaproxyConf } from '../../kits/explain/haproxy-conf.ts';
import type { LogReader } from '../../kits/explain/log-reader.ts';
import { formatsFor, NginxConfError, parseNginxConf } from '../../kits/explain/nginx-conf.ts';
import { LogFormatError, readLogs } from '../../kits/explain/read-logs.ts';
import {
  type HaproxyFormat,
  isHaproxyFormat,
  unreadableHaproxy,
} from '../../kits/explain/readers/haproxy-format.ts';
import { haproxyFormatReader } from '../../kits/explain/readers/haproxy-log-format.ts';
import {
  type LogFormat,
  nginxFormatReader,
  unreadable,
} from '../../kits/explain/readers/nginx-log-format.ts';
import { renderText } from '../../kits/explain/render-text.ts';
import { buildReport } from '../../kits/explain/report.ts';
import { EXIT } from '../cluster/exit-codes.ts';
import { runExplainValue } from './explain-value.ts';

export const EXPLAIN_HELP = `Usage: candor explain [options] LOG...
       candor explain [--json] --proxy-status 'VALUE'
       candor explain [--json] --error TYPE [--error TYPE...]

Reads access and error logs (plain or gzipped; the format is detected per file; a LOG of -
is what stdin carries: kubectl logs POD | candor explain -) and tells the story of their 5xx. A file of which fewer than 90% of the lines are in its format is
refused (exit 65), never reported on in part.

Without logs, explains a Proxy-Status value (RFC 9209) as a 502 carried it, member by member,
the first written nearest the origin: which proxy, its error type in plain words, the status
and shape, whether a retry may help, what the next hop names; or error types by name.

  --proxy-status 'VALUE'  the value, or whole "Proxy-Status: …" lines as curl -i shows them;
                    one that cannot be read exits 65, saying where
  --error TYPE      an error type (RFC 9209's, Candor's own, or another proxy's: unknown)

  --json            the report as JSON, for machines
  --deploys FILE    deploy times, one a line: ISO-8601 time, then an optional label
  --bucket DURATION storm bucket size (default: adaptive, 1s to 1d)
  --format NAME     read every LOG as NAME (${READERS.map((r) => r.format).join(', ')})
  --nginx-conf FILE read nginx access logs in the log_formats FILE defines (the one its
                    access_log names for a file, else the one that fits); FILE's includes
                    are not followed
  --haproxy-conf FILE read HAProxy logs in the log-formats FILE sets (the one that
                    fits), HAProxy's health lines among them
  --log-format 'FORMAT'  read access logs written in this nginx log_format string
                    (prefix "escape=json " for a JSON one) or HAProxy log-format
                    string (told apart by its %tags: '%ci [%tr] %ST %b/%s %tsc …')
`;

/** The options explain takes (EXPLAIN_HELP names each but the hidden --stats). */
export const EXPLAIN_OPTIONS = {
  json: { type: 'boolean' },
  deploys: { type: 'string' },
  bucket: { type: 'string' },
  format: { type: 'string' },
  'nginx-conf': { type: 'string' },
  'haproxy-conf': { type: 'string' },
  'log-format': { type: 'string' },
  'proxy-status': { type: 'string' },
  error: { type: 'string', multiple: true },
  // Hidden: time and peak memory on stderr, for the 1 GB measurement.
  stats: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `candor explain LOG...`: returns the exit code. */
export async function runExplain(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: EXPLAIN_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(EXPLAIN_HELP);
    return EXIT.ok;
  }
  if (values['proxy-status'] !== undefined || values.error !== undefined) {
    const logOptions = ['deploys', 'bucket', 'format', 'nginx-conf', 'haproxy-conf', 'log-format'] as const;
    return runExplainValue(
      {
        proxyStatus: values['proxy-status'],
        errors: values.error,
        json: values.json === true,
        logArgs: [
          ...logOptions.filter((name) => values[name] !== undefined).map((name) => `--${name}`),
          ...positionals,
        ],
      },
      usage,
    );
  }
  if (positionals.length === 0)
    return usage('needs at least one log file (candor explain LOG...)', 'candor explain');
  if (!positionals.includes('-')) return explainLogs(values, positionals);
  // stdin is read once and kept in a file of its own: a log is read twice (its format first).
  if (positionals.filter((path) => path === '-').length > 1) return usage('- (stdin) is named twice');
  if (process.stdin.isTTY) return usage('- reads a log from stdin, which is a terminal: pipe one in');
  const dir = mkdtempSync(join(tmpdir(), 'candor-explain-'));
  const kept = join(dir, 'stdin');
  try {
    await pipeline(process.stdin, createWriteStream(kept, { mode: 0o600 }));
    return await explainLogs(
      values,
      positionals.map((path) => (path === '-' ? kept : path)),
      (text) => text.split(kept).join('stdin'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type ExplainValues = ReturnType<typeof parseArgs<{ options: typeof EXPLAIN_OPTIONS }>>['values'];

/** The report of the logs named (`shown`: how a path is told, stdin's file as `stdin`). */
async function explainLogs(
  values: ExplainValues,
  positionals: readonly string[],
  shown: (text: string) => string = (text) => text,
): Promise<number> {
  // Each file named, read or not, is there: a clear word and its name, never an errno line
  // without it ("EISDIR: illegal operation on a directory, read").
  const named: Array<[string, string | undefined]> = [
    ...positionals.map((path): [string, string] => ['a LOG given', path]),
    ['--deploys', values.deploys],
    ['--nginx-conf', values['nginx-conf']],
    ['--haproxy-conf', values['haproxy-conf']],
  ];
  // `candor explain "$LOG"` with LOG unset: "cannot read : no such file" named nothing.
  const empty = named.find(([, path]) => path === '');
  if (empty !== undefined) return usage(`${empty[0]} is "", no file name (a shell variable left empty?)`);
  for (const [, path] of named) {
    const problem = path === undefined ? undefined : unreadableFile(path);
    if (problem !== undefined) return usage(`cannot read ${path}: ${problem}`);
  }
  const logs = onceEach(positionals);
  const bucketMs = values.bucket === undefined ? undefined : parseDuration(values.bucket);
  if (values.bucket !== undefined && (bucketMs === undefined || bucketMs < 1000))
    return usage(`--bucket must be a duration of at least 1s, like 10s or 5m, got "${values.bucket}"`);
  let custom: ((path: string) => readonly LogReader[]) | undefined;
  try {
    custom = customReaders(values['nginx-conf'], values['haproxy-conf'], values['log-format']);
  } catch (err) {
    if (err instanceof NginxConfError || err instanceof HaproxyConfError) return usage(err.message);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') return usage((err as Error).message);
    throw err;
  }
  const customIds = custom ? [...new Set(logs.flatMap((p) => custom(p).map((r) => r.format)))] : [];
  const formats = [...customIds, ...READERS.map((r) => r.format)];
  if (values.format !== undefined && !formats.includes(values.format))
    return usage(`--format must be one of ${formats.join(', ')}, got "${values.format}"`);

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
    const { tally, files, readers } = await readLogs(logs, {
      format: values.format,
      bucketMs,
      readersFor: custom,
    });
    const report = buildReport(tally, files, deploys, readers);
    process.stdout.write(
      shown(values.json ? `${strictJson(JSON.stringify(report, null, 2))}\n` : renderText(report)),
    );
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
    if (err instanceof LogFormatError) {
      process.stderr.write(`candor: ${shown(printable(err.message))}\n`);
      return EXIT.data;
    }
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'Z_DATA_ERROR')
      return usage(shown((err as Error).message));
    throw err;
  }
}

/**
 * Readers for the formats of --nginx-conf (per file: the one its access_log names first) and
 * --haproxy-conf, or of --log-format (nginx's or HAProxy's); undefined when none was given.
 */
function customReaders(
  nginxConf: string | undefined,
  haproxyConf: string | undefined,
  formatText: string | undefined,
): ((path: string) => readonly LogReader[]) | undefined {
  if (formatText !== undefined && (nginxConf !== undefined || haproxyConf !== undefined))
    throw new NginxConfError(`give --${nginxConf ? 'nginx' : 'haproxy'}-conf or --log-format, not both`);
  if (formatText !== undefined && isHaproxyFormat(formatText)) {
    const format: HaproxyFormat = { name: 'custom', text: formatText };
    const problem = unreadableHaproxy(format);
    if (problem)
      throw new HaproxyConfError(`--log-format: ${problem.replace('log-format custom', 'the format')}`);
    const reader = haproxyFormatReader(format, 'haproxy-custom', 'HAProxy log (--log-format)');
    return () => [reader];
  }
  if (formatText !== undefined) {
    const escaping = /^escape=(default|json|none) /.exec(formatText);
    const format: LogFormat = {
      name: 'custom',
      escape: (escaping?.[1] as LogFormat['escape'] | undefined) ?? 'default',
      text: escaping ? formatText.slice(escaping[0].length) : formatText,
    };
    const problem = unreadable(format);
    if (problem)
      throw new NginxConfError(`--log-format: ${problem.replace('log_format custom ', 'the format ')}`);
    const reader = nginxFormatReader(format, 'nginx-custom', 'nginx access log (--log-format)');
    return () => [reader];
  }
  const haproxy: LogReader[] = [];
  if (haproxyConf !== undefined) {
    const formats = parseHaproxyConf(readFileSync(haproxyConf, 'utf8'), haproxyConf);
    const readable = formats.filter((f) => unreadableHaproxy(f) === undefined);
    // A config with only `option httplog` needs none: the built-in reader reads its lines.
    if (formats.length > 0 && readable.length === 0)
      throw new HaproxyConfError(`${haproxyConf}: ${formats.map((f) => unreadableHaproxy(f)).join('; ')}`);
    for (const format of readable)
      haproxy.push(
        haproxyFormatReader(
          format,
          `haproxy:${format.name.replace(/ \(option httplog clf\)$/, '-clf').replaceAll(' ', ':')}`,
          `HAProxy log (log-format of ${format.name})`,
        ),
      );
  }
  if (nginxConf === undefined) return haproxy.length > 0 ? () => haproxy : undefined;
  const config = parseNginxConf(readFileSync(nginxConf, 'utf8'));
  const compiled = new Map<string, LogReader>();
  for (const format of config.formats) {
    if (unreadable(format)) continue;
    compiled.set(
      format.name,
      nginxFormatReader(format, `nginx:${format.name}`, `nginx access log (log_format ${format.name})`),
    );
  }
  return (path) => [...formatsFor(config, path).flatMap((f) => compiled.get(f.name) ?? []), ...haproxy];
}

/**
 * Why the file at `path` cannot be read as a file, or undefined when it can. Only a regular
 * file: a log's first bytes are read at their offset (gzip or not) before it is streamed, which
 * a pipe cannot do, and a device (/dev/zero) would be read without end.
 */
function unreadableFile(path: string): string | undefined {
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) return 'is a directory';
    if (stat.isFIFO()) return 'is a pipe: explain reads files (give the stream as -, stdin)';
    if (!stat.isFile()) return 'not a file';
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (err) {
    return readErrorReason(err);
  }
}

/**
 * The logs named, each file once (by device and inode: the same path twice, a link to one, a
 * glob that names a file again), in the order first named; each name not read again is said on
 * stderr. Read twice, every request of the file would be counted twice.
 */
function onceEach(paths: readonly string[]): string[] {
  const seen = new Map<string, string>();
  const logs: string[] = [];
  for (const path of paths) {
    const { dev, ino } = statSync(path);
    const first = seen.get(`${dev}:${ino}`);
    if (first === undefined) {
      seen.set(`${dev}:${ino}`, path);
      logs.push(path);
    } else
      process.stderr.write(
        `candor: ${path} is ${first} again (the same file): read once, so that no request is counted twice\n`,
      );
  }
  return logs;
}

/** `who` is the command when the message starts with what it does ("candor explain: needs …"). */
function usage(message: string, who = 'candor'): number {
  process.stderr.write(`${who}: ${message}\nRun "candor explain --help" for usage.\n`);
  return EXIT.usage;
}
