/** The fixture app as a child process, its stdout lines parsed as they come. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitUntil } from '../../helpers/wait.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures/app-process.ts');

export interface AppProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly lines: Record<string, unknown>[];
  readonly exited: Promise<number | null>;
  /** Waits for a line with this msg (5 s at most by default). */
  waitFor(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  stderr(): string;
  kill(): Promise<void>;
}

export async function startAppProcess(env: Record<string, string>): Promise<AppProcess> {
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let partial = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const part of parts) if (part) lines.push(JSON.parse(part));
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = async (msg: string, timeoutMs = 5000) => {
    await waitUntil(
      `a "${msg}" line from the app (stderr: ${stderr.slice(0, 500)})`,
      () => lines.some((l) => l.msg === msg) || child.exitCode !== null,
      timeoutMs,
    );
    const line = lines.find((l) => l.msg === msg);
    if (line === undefined)
      throw new Error(`the app exited ${child.exitCode} before "${msg}"; stderr: ${stderr}`);
    return line;
  };
  try {
    const listening = await waitFor('listening', 15_000);
    return {
      child,
      port: Number(listening.port),
      lines,
      exited,
      waitFor,
      stderr: () => stderr,
      kill: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}
