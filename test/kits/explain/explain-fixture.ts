/** The recorded fixtures (see fixtures/record.ts) and a one-call explain for tests. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readDeploys } from '../../../src/kits/explain/deploys.ts';
import { formatsFor, parseNginxConf } from '../../../src/kits/explain/nginx-conf.ts';
import { readLogs } from '../../../src/kits/explain/read-logs.ts';
import { nginxFormatReader } from '../../../src/kits/explain/readers/nginx-log-format.ts';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import { buildReport, type Report } from '../../../src/kits/explain/report.ts';

// nginx's error log and HAProxy's dates have no zone; the fixtures were recorded in UTC.
process.env.TZ = 'UTC';

export const FIXTURES = join(import.meta.dirname, 'fixtures');
export const fixture = (name: string) => join(FIXTURES, name);

/** The log sets of the recording, by proxy: every set saw the same traffic. */
export const LOG_SETS = {
  nginx: [fixture('nginx-access.log'), fixture('nginx-error.log')],
  'nginx-timed': [fixture('nginx-access-timed.log'), fixture('nginx-error.log')],
  haproxy: [fixture('haproxy.log')],
  candor: [fixture('candor.log')],
} as const;

export async function explain(
  paths: readonly string[],
  options: { deploys?: string; bucketMs?: number; format?: string; conf?: string } = {},
): Promise<Report> {
  const deploys = options.deploys ? (await readDeploys(options.deploys)).deploys : [];
  const conf = options.conf ? parseNginxConf(readFileSync(options.conf, 'utf8')) : undefined;
  const { tally, files, readers } = await readLogs(paths, {
    bucketMs: options.bucketMs,
    format: options.format,
    progress: false,
    readersFor: conf
      ? (path) => formatsFor(conf, path).map((f) => nginxFormatReader(f, `nginx:${f.name}`, f.name))
      : undefined,
  });
  return buildReport(tally, files, deploys, readers);
}

export function lines(name: string): string[] {
  return readFileSync(fixture(name), 'utf8')
    .split('\n')
    .filter((line) => line !== '');
}

/** Type → count over every shape of a report. */
export function typeCounts(report: Report): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const shape of report.shapes) for (const t of shape.types) counts[t.type] = t.count;
  return counts;
}

export function statusCount(report: Report, status: number): number {
  return report.statuses.find((s) => s.status === status)?.count ?? 0;
}

const ROOT = join(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'bin/candor.js');

/** `candor explain ARGS` as a real process, in the repository's root, with TZ=UTC. */
export function runExplain(
  args: string[],
  stdin?: Buffer,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'explain', ...args], {
      stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      cwd: ROOT,
      env: { ...process.env, TZ: 'UTC' },
    });
    child.stdin?.end(stdin);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk) => (stdout += chunk));
    child.stderr?.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The text report with each file shown by its name alone: its tables are as wide as the longest
 * path, so with whole paths the expected text would depend on where the checkout is.
 */
export function renderNamed(report: Report): string {
  return renderText({ ...report, files: report.files.map((f) => ({ ...f, path: basename(f.path) })) });
}
