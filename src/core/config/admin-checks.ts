/**
 * The admin section's rules beyond single fields: one token source, and a token that is
 * there and long enough when the config is loaded — an admin API that turns out to have no
 * usable token at the first call would be either open or useless.
 */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { mappingAt, stringAt } from './raw-access.ts';
import { readErrorReason } from './read-error.ts';
import type { Report } from './report.ts';

/** Shorter tokens can be guessed by a patient client; 16 characters is the floor, not a recommendation. */
const MIN_TOKEN_LENGTH = 16;

export function checkAdmin(document: unknown, baseDir: string, env: NodeJS.ProcessEnv, report: Report): void {
  const root = document !== null && typeof document === 'object' ? (document as Record<string, unknown>) : {};
  const admin = mappingAt(root, 'admin');
  if (admin === undefined) return;
  const file = stringAt(admin, 'token_file');
  const name = stringAt(admin, 'token_env');
  if (file === undefined && name === undefined) {
    report(['admin'], 'the admin API needs a token: set token_file or token_env');
    return;
  }
  if (file !== undefined && name !== undefined) {
    report(['admin', 'token_env'], 'set token_file or token_env, not both');
    return;
  }
  const token = readAdminTokenSource(
    file === undefined ? { env: name ?? '' } : { file: resolve(baseDir, file) },
    env,
  );
  if ('problem' in token) report(['admin', file === undefined ? 'token_env' : 'token_file'], token.problem);
}

/** The token from its source, trimmed (a file written by `echo` ends with a newline), or why there is none. */
export function readAdminTokenSource(
  source: { readonly file: string } | { readonly env: string },
  env: NodeJS.ProcessEnv,
): { readonly token: string } | { readonly problem: string } {
  let token: string;
  if ('file' in source) {
    try {
      token = readFileSync(source.file, 'utf8').trim();
    } catch (error) {
      return { problem: `cannot read ${JSON.stringify(source.file)}: ${readErrorReason(error)}` };
    }
  } else {
    const value = env[source.env];
    if (value === undefined || value.trim() === '')
      return { problem: `the environment variable ${source.env} is not set` };
    token = value.trim();
  }
  // Never the token itself in a message: only its length.
  if (token.length < MIN_TOKEN_LENGTH)
    return {
      problem: `the admin token must be at least ${MIN_TOKEN_LENGTH} characters, got ${token.length}`,
    };
  if (/\s/.test(token)) return { problem: 'the admin token must not contain spaces or line breaks' };
  return { token };
}
