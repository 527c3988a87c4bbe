import { readFileSync } from 'node:fs';

/**
 * Whether a process runs no more: no such pid, or a zombie whose exit nobody collected yet.
 * `process.kill(pid, 0)` succeeds on a zombie, and an orphan's exit is collected by whatever
 * reaps for the machine (PID 1, a subreaper) when it gets to it: seconds on a CI host, maybe
 * never. A test that waits for a process to end asks this instead.
 */
export function ended(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The state follows the command's closing parenthesis (the command may hold spaces and parentheses).
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
