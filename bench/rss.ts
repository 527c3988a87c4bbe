/**
 * Memory of a proxy while it is measured: VmRSS of the process and all its descendants summed,
 * sampled every 100 ms (the peak is kept), and their VmHWM (the kernel's own peak) at the end.
 * Candor's memory target is per worker, so the largest single worker is kept as well.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** pid → parent pid, for every process. */
export function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses: read after the last ')'.
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      map.set(Number(entry), Number(after[1]));
    } catch {
      // Gone meanwhile.
    }
  }
  return map;
}

/** `pid` and all its descendants. */
export function processTree(pid: number, parentOf: Map<number, number> = parents()): number[] {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parentOf) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

/** The `field` (e.g. "VmRSS") of /proc/PID/status in KiB, 0 if gone. */
export function statusKiB(pid: number, field: string): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match === null ? 0 : Number(match[1]);
  } catch {
    return 0;
  }
}

/** VmRSS of a process tree at one moment, KiB. */
export interface TreeRss {
  /** Summed over the tree. */
  readonly totalKiB: number;
  /**
   * The largest worker: the workers are the root's descendants when it has any (Candor's
   * primary and nginx's master only supervise), else the root itself (one process).
   */
  readonly workerKiB: number;
}

/** VmRSS of `tree` (as returned by processTree: the root first). */
export function treeRss(tree: readonly number[]): TreeRss {
  const rss = tree.map((p) => statusKiB(p, 'VmRSS'));
  const workers = rss.length > 1 ? rss.slice(1) : rss;
  return { totalKiB: rss.reduce((a, b) => a + b, 0), workerKiB: Math.max(0, ...workers) };
}

export interface MemorySample {
  /** Highest sum of VmRSS seen over the samples, KiB. */
  readonly peakRssKiB: number;
  /** Highest VmRSS of a single worker seen over the samples, KiB (see TreeRss). */
  readonly peakWorkerRssKiB: number;
  /** Sum of VmHWM over the tree when sampling stopped, KiB. */
  readonly hwmKiB: number;
}

export interface RssSampler {
  /** Stops sampling; later calls return the same result. */
  stop(): MemorySample;
}

/** Samples the tree of `pid` every `intervalMs`; the tree itself is looked up again every second. */
export function sampleRss(pid: number, intervalMs = 100): RssSampler {
  let tree = processTree(pid);
  let treeAt = Date.now();
  let peak = 0;
  let peakWorker = 0;
  const sample = () => {
    if (Date.now() - treeAt > 1000) {
      tree = processTree(pid);
      treeAt = Date.now();
    }
    const rss = treeRss(tree);
    peak = Math.max(peak, rss.totalKiB);
    peakWorker = Math.max(peakWorker, rss.workerKiB);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  let result: MemorySample | undefined;
  return {
    stop() {
      if (result !== undefined) return result;
      clearInterval(timer);
      sample();
      const hwm = processTree(pid).reduce((total, p) => total + statusKiB(p, 'VmHWM'), 0);
      result = { peakRssKiB: peak, peakWorkerRssKiB: peakWorker, hwmKiB: hwm };
      return result;
    },
  };
}

/** A process's resident memory split (MiB): its own pages, and those shared with other processes. */
export interface ResidentParts {
  readonly rssMiB: number;
  /** Private_Clean + Private_Dirty: what this process alone holds (its heap, its buffers). */
  readonly ownMiB: number;
  /** Shared_Clean + Shared_Dirty: mostly the node binary's pages, held once for every process that maps them. */
  readonly sharedMiB: number;
}

/** /proc/PID/smaps_rollup, split as ResidentParts; undefined if the process is gone. */
export function residentParts(pid: number): ResidentParts | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return {
    rssMiB: kib('Rss') / 1024,
    ownMiB: (kib('Private_Clean') + kib('Private_Dirty')) / 1024,
    sharedMiB: (kib('Shared_Clean') + kib('Shared_Dirty')) / 1024,
  };
}
