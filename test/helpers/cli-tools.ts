/** Command-line clients the tests drive (curl, nghttp): whether one is installed, and one bounded run. */
import { execFile, execFileSync } from 'node:child_process';

export function hasTool(tool: string): boolean {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface ToolRun {
  /** The exit code (-1 when killed, e.g. at the 10 s bound). */
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tool` with `args`, killed after 10 s, never rejecting. */
export function runTool(tool: string, args: string[]): Promise<ToolRun> {
  return new Promise((resolve) => {
    execFile(tool, args, { timeout: 10_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}
