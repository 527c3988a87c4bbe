/** One wrk run: pinned to the load-generator CPU, one thread, keep-alive, --latency. */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DONE_LUA, type Scenario } from './scenarios.ts';

export interface WrkResult {
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Responses with a status outside 2xx/3xx. */
  readonly non2xx: number;
  /** Socket errors: connect, read, write, timeout. */
  readonly socketErrors: number;
}

/** Writes the scenario's Lua script into `dir` and returns its path. */
export function writeScript(dir: string, scenario: Scenario): string {
  const file = join(dir, `${scenario.id}.lua`);
  writeFileSync(file, scenario.lua + DONE_LUA);
  return file;
}

interface Raw {
  requests: number;
  duration_us: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50_us: number;
  p99_us: number;
}

/** The BENCH_RESULT line of wrk's output, as numbers. */
export function parseWrk(output: string): WrkResult {
  const line = output.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (line === undefined) throw new Error(`wrk printed no result: ${output.trim().slice(-300)}`);
  const raw = JSON.parse(line.slice('BENCH_RESULT '.length)) as Raw;
  return {
    requests: raw.requests,
    rps: raw.requests / (raw.duration_us / 1e6),
    p50Ms: raw.p50_us / 1000,
    p99Ms: raw.p99_us / 1000,
    non2xx: raw.status,
    socketErrors: raw.connect + raw.read + raw.write + raw.timeout,
  };
}

/** Runs wrk for `seconds` against 127.0.0.1:`port` with the scenario's script. */
export function runWrk(options: {
  readonly cpu: string;
  readonly port: number;
  readonly scenario: Scenario;
  readonly script: string;
  readonly seconds: number;
}): Promise<WrkResult> {
  const { cpu, port, scenario, script, seconds } = options;
  const args = ['-c', cpu, 'wrk', '-t1', `-c${scenario.connections}`, `-d${seconds}s`, '--latency'];
  args.push('--timeout', '10s', '-s', script, `http://127.0.0.1:${port}${scenario.path}`);
  return new Promise((resolve, reject) => {
    execFile('taskset', args, { timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`wrk failed: ${err.message} ${stderr.trim().slice(-300)}`));
      else {
        try {
          resolve(parseWrk(stdout));
        } catch (parseErr) {
          reject(parseErr);
        }
      }
    });
  });
}
