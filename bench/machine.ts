/** What the report says about the machine and the software measured. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR, NODE_BIN, REPO_DIR } from './paths.ts';

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memory: string;
  readonly kernel: string;
  readonly node: string;
  readonly nginx: string;
  readonly haproxy: string;
  readonly wrk: string;
  /** "name version" of each Node peer package. */
  readonly peers: readonly string[];
  readonly candorCommit: string;
}

function output(command: string, args: readonly string[], cwd?: string): string {
  const result = spawnSync(command, args, { encoding: 'utf8', cwd });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
}

function peerVersion(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(BENCH_DIR, 'node_modules', name, 'package.json'), 'utf8'));
    return `${name} ${pkg.version}`;
  } catch {
    return `${name} (not installed)`;
  }
}

export function describeMachine(): MachineInfo {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const memKiB = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  const commit = output('git', ['log', '-1', '--format=%h %cs'], REPO_DIR);
  const dirty = output('git', ['status', '--porcelain', '--', 'src', 'bin'], REPO_DIR) !== '';
  return {
    cpuModel: model,
    cores: (cpuinfo.match(/^processor\s*:/gm) ?? []).length,
    memory: `${Math.round(memKiB / 1024 / 1024)} GiB`,
    kernel: `Linux ${release()}`,
    node: output(NODE_BIN, ['--version']),
    nginx: output('nginx', ['-v']).replace(/^nginx version:\s*nginx\//, ''),
    haproxy: output('haproxy', ['-v'])
      .split('\n')[0]
      .replace(/ - https:.*$/, ''),
    wrk: output('wrk', ['-v'])
      .split('\n')[0]
      .replace(/ Copyright.*$/, ''),
    peers: ['fastify', '@fastify/http-proxy', 'http-proxy', 'undici', 'pino'].map(peerVersion),
    candorCommit: `${/^[0-9a-f]{7,} /.test(commit) ? commit : 'no commit yet'}${dirty ? ' + uncommitted changes in src/ or bin/' : ''}`,
  };
}
