/**
 * Whose a workers' cache folder is (workers-store.ts), or a key's fetch lock in one (fill-lock.ts),
 * so that the folder of a gateway gone, or a lock of a worker gone, can be told from a live one's
 * with certainty. A primary killed (SIGKILL, the OOM killer) never removes
 * its folder; a crash loop under a supervisor then fills a container's 64 MiB /dev/shm, after
 * which answers silently stop being shared. The next primary removes such a folder only when its
 * owner is certainly not running.
 *
 * The owner is written into the folder's name when it is made (mkdtemp's one step: a folder is
 * never there without it): its primary's pid and start time (the 22nd field of /proc/PID/stat,
 * clock ticks since boot: a pid the kernel has given again belongs to a process started later),
 * and the pid and time namespaces they were read in. Another namespace's pid names another
 * process here, or none (two containers of a pod share /dev/shm, each with its own pids), and
 * another time namespace reads start times shifted: a folder recorded in either is not judged.
 * Where /proc cannot say (not Linux) the folder has no owner in its name, and is never swept.
 */

// node:fs through process.getBuiltinModule, not an import: the primary reads these (workers-store.ts).
const { readFileSync, readlinkSync } = process.getBuiltinModule('node:fs');

/** The beginning of every workers' cache folder's name. */
export const STORE_PREFIX = 'candor-cache-';

/** A folder's name with its owner: `candor-cache-PID-START-PIDNS-TIMENS-` and mkdtemp's six characters. */
const OWNED = /^candor-cache-(\d+-\d+-\d+-\d+)-[A-Za-z0-9]{6}$/;

/** An owner as it is written: `PID-START-PIDNS-TIMENS`. */
const TOKEN = /^(\d+)-(\d+)-(\d+)-(\d+)$/;

/** The primary a folder's name records. */
export interface StoreOwner {
  readonly pid: number;
  /** Its start time, in clock ticks since boot, as /proc/PID/stat says it (a string of digits). */
  readonly start: string;
  /** The pid and time namespaces (their inode numbers) the pid and start time were read in. */
  readonly pidNs: string;
  readonly timeNs: string;
}

/** The prefix of this process's folder: its owner written in, or the bare prefix where /proc cannot tell it. */
export function ownedPrefix(): string {
  const token = ownerToken();
  return token === undefined ? STORE_PREFIX : `${STORE_PREFIX}${token}-`;
}

/** This process as an owner is written (`PID-START-PIDNS-TIMENS`); undefined where /proc cannot tell it. */
export function ownerToken(): string | undefined {
  const start = processFacts(process.pid)?.start;
  const spaces = namespaces();
  if (start === undefined || spaces === undefined) return undefined;
  return `${process.pid}-${start}-${spaces.pid}-${spaces.time}`;
}

/** The owner a folder's name records; undefined for another name, or a folder made without one. */
export function ownerOf(name: string): StoreOwner | undefined {
  const owned = OWNED.exec(name);
  return owned === null ? undefined : ownerOfToken(owned[1]);
}

/** The owner written as `ownerToken` writes it; undefined for anything else. */
export function ownerOfToken(token: string): StoreOwner | undefined {
  const owned = TOKEN.exec(token);
  if (owned === null) return undefined;
  return { pid: Number(owned[1]), start: owned[2], pidNs: owned[3], timeNs: owned[4] };
}

/**
 * Whether the owner is certainly not running: recorded in this process's namespaces, and no
 * process of its pid is there, or the one there started at another time (the pid given again), or
 * it is a zombie (dead, its exit not yet collected). Anything /proc does not answer plainly is
 * read as running: a folder is left behind rather than a live gateway's removed.
 */
export function ownerGone(owner: StoreOwner): boolean {
  const spaces = namespaces();
  if (spaces === undefined || owner.pidNs !== spaces.pid || owner.timeNs !== spaces.time) return false;
  let facts: ProcessFacts | undefined;
  try {
    facts = processFacts(owner.pid, true);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
  if (facts === undefined) return false;
  return facts.state === 'Z' || facts.state === 'X' || facts.start !== owner.start;
}

interface ProcessFacts {
  /** /proc/PID/stat's third field: R, S, D, Z (zombie), X (dead)… */
  readonly state: string;
  readonly start: string;
}

/**
 * A process's state and start time from /proc/PID/stat; undefined when unreadable or unreadable
 * as one (or, with `rethrow`, the read's error itself: ENOENT says there is no such process). The
 * command name (field 2, in parentheses) may hold spaces and parentheses: fields are counted after
 * its last `)`, where field 3 is the first.
 */
function processFacts(pid: number, rethrow = false): ProcessFacts | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (err) {
    if (rethrow) throw err;
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [state, start] = [fields[0], fields[22 - 3]];
  if (state === undefined || start === undefined || !/^\d+$/.test(start)) return undefined;
  return { state, start };
}

/** This process's pid and time namespaces (inode numbers; a kernel before 5.6 has no time namespace: 0), or undefined without /proc. */
function namespaces(): { pid: string; time: string } | undefined {
  const inode = (kind: string) => /^\w+:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/ns/${kind}`))?.[1];
  try {
    const pid = inode('pid');
    if (pid === undefined) return undefined;
    let time: string | undefined = '0';
    try {
      time = inode('time');
    } catch {
      // No time namespaces on this kernel: every process reads the same clock.
    }
    return time === undefined ? undefined : { pid, time };
  } catch {
    return undefined;
  }
}
