/**
 * Installs what the benchmark needs, only when it is missing: nginx, HAProxy and wrk from
 * Debian's packages, and the Node peers (the bench folder's own devDependencies).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR } from './paths.ts';

/** Binary on PATH → the Debian package that ships it. */
const DEBIAN_PACKAGES: Readonly<Record<string, string>> = {
  nginx: 'nginx-light',
  haproxy: 'haproxy',
  wrk: 'wrk',
  taskset: 'util-linux',
};

/** The absolute path of `name` on PATH, or undefined. */
export function which(name: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path !== '' ? path : undefined;
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  process.stderr.write(`bench: $ ${command} ${args.join(' ')}\n`);
  execFileSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
}

/** apt-get installs the packages of the missing binaries; the package scripts may not start any service. */
export function installSystemTools(): void {
  const missing = Object.keys(DEBIAN_PACKAGES).filter((bin) => which(bin) === undefined);
  if (missing.length === 0) return;
  const packages = missing.map((bin) => DEBIAN_PACKAGES[bin]);
  // RUNLEVEL=1 makes invoke-rc.d refuse to start the freshly installed nginx/haproxy services.
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', RUNLEVEL: '1' };
  run('apt-get', ['update', '-q'], env);
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], env);
  const still = missing.filter((bin) => which(bin) === undefined);
  if (still.length > 0) throw new Error(`still missing after apt-get install: ${still.join(', ')}`);
}

/** `npm ci` (or `npm install` without a lock file) in bench/ when bench/node_modules is missing. */
export function installNodePeers(): void {
  if (existsSync(join(BENCH_DIR, 'node_modules'))) return;
  const hasLock = existsSync(join(BENCH_DIR, 'package-lock.json'));
  run('npm', [hasLock ? 'ci' : 'install', '--prefix', BENCH_DIR, '--no-audit', '--no-fund']);
}
