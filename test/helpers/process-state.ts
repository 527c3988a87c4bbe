import { readdirSync, readFileSync } from 'node:fs';

/** The state letter in a /proc `stat` file (R, S, T, Z…), or undefined when it is gone. */
function stateIn(path: string): string | undefined {
  try {
    const stat = readFileSync(path, 'latin1');
    // The state follows the command's closing parenthesis (the command may hold spaces and parentheses).
    return stat.charAt(stat.lastIndexOf(')') + 2);
  } catch {
    return undefined;
  }
}

/**
 * Whether a process runs no more: no such pid, or a zombie whose exit nobody collected yet.
 * `process.kill(pid, 0)` succeeds on a zombie, and an orphan's exit is collected by whatever
 * reaps for the machine (PID 1, a subreaper) when it gets to it: seconds on a CI host, maybe
 * never. A test that waits for a process to end asks this instead.
 */
export function ended(pid: number): boolean {
  const state = stateIn(`/proc/${pid}/stat`);
  return state === undefined || state === 'Z';
}

/**
 * Whether every thread of a process is stopped (SIGSTOP: state T), or the process is gone. The
 * signal is only queued when kill() returns: a thread running on the other core goes on until
 * it next enters the kernel.
 */
export function stopped(pid: number): boolean {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return true;
  }
  return tasks.every((task) => {
    const state = stateIn(`/proc/${pid}/task/${task}/stat`);
    return state === undefined || state === 'T' || state === 't';
  });
}
