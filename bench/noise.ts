/**
 * How much CPU others took while a run was measured. The machine may be shared (a test suite, a
 * compiler) and is a virtual machine: CPU time of the whole machine (user + nice + system, from
 * /proc/stat) minus the CPU time of the benchmark's own processes (this harness and the wrk runs
 * it waited for, the origin, every system), plus the time the hypervisor gave our CPUs to
 * someone else (steal), is "foreign" time, reported as a share of one core.
 */
import { readFileSync } from 'node:fs';
import { parents, processTree } from './rss.ts';

/** Clock ticks per second of /proc/stat and /proc/PID/stat (USER_HZ, 100 on Linux). */
const HZ = 100;

export interface CpuSnapshot {
  readonly machine: number;
  readonly ours: number;
}

function machineTicks(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user, nice, system and steal; idle, iowait, irq and softirq are left out.
  return fields[0] + fields[1] + fields[2] + fields[7];
}

/** utime + stime, plus the children's the process has waited for when `reaped`. */
function processTicks(pid: number, reaped: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    // After the name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
    return f[11] + f[12] + (reaped ? f[13] + f[14] : 0);
  } catch {
    return 0;
  }
}

/** `roots`: the pids of the origin and of every system; this process is always counted. */
export function cpuSnapshot(roots: readonly number[]): CpuSnapshot {
  const parentOf = parents();
  let ours = processTicks(process.pid, true);
  for (const root of roots) {
    for (const pid of processTree(root, parentOf)) ours += processTicks(pid, false);
  }
  return { machine: machineTicks(), ours };
}

/** Foreign CPU between two snapshots, as a share of one core over `seconds`. */
export function foreignShare(before: CpuSnapshot, after: CpuSnapshot, seconds: number): number {
  const foreign = after.machine - before.machine - (after.ours - before.ours);
  return Math.max(0, foreign / HZ / seconds);
}

/** CPU seconds (user + system) the process `pid` and its descendants have taken so far. */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const member of processTree(pid)) ticks += processTicks(member, false);
  return ticks / HZ;
}
