/**
 * The admin section's rules beyond single fields: one token source, and a token that is
 * there and long enough when the config is loaded — an admin API that turns out to have no
 * usable token at the first call would be either open or useless.
 */

import { resolve } from 'node:path';
import { mappingAt, stringAt } from './raw-access.ts';
import { readErrorReason } from './read-error.ts';
import type { Report } from './report.ts';
import { type SecretPresence, secretAbsent } from './secrets.ts';

// node:fs through process.getBuiltinModule, not an import: imported as an ES module it loads
// fs/promises, its streams and readline as well, about 1 MiB of the primary's memory
// (test/server/cli/lean-processes.test.ts).
const { closeSync, constants, fstatSync, openSync, readFileSync } = process.getBuiltinModule('node:fs');

/** Shorter tokens can be guessed by a patient client; 16 characters is the floor, not a recommendation. */
const MIN_TOKEN_LENGTH = 16;

export function checkAdmin(
  document: unknown,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  report: Report,
  secrets: SecretPresence = 'required',
): void {
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
  const source = file === undefined ? { env: name ?? '' } : { file: resolve(baseDir, file) };
  if (secrets === 'may-be-absent' && secretAbsent(source, env)) return;
  const token = readAdminTokenSource(source, env);
  if ('problem' in token) report(['admin', file === undefined ? 'token_env' : 'token_file'], token.problem);
}

/**
 * What group and others may do with a token file, when anything ("read by others"); undefined
 * when only its owner can. Windows has no such mode bits (Node reports 0o666 for every file).
 */
function exposedMode(mode: number): string | undefined {
  if (process.platform === 'win32') return undefined;
  const who = [mode & 0o060 ? 'group' : '', mode & 0o006 ? 'others' : ''].filter(Boolean).join(' and ');
  if (who === '') return undefined;
  const what = mode & 0o044 ? (mode & 0o022 ? 'read and written' : 'read') : 'written';
  return `${what} by ${who}`;
}

/** The token from its source, trimmed (a file written by `echo` ends with a newline), or why there is none. */
export function readAdminTokenSource(
  source: { readonly file: string } | { readonly env: string },
  env: NodeJS.ProcessEnv,
): { readonly token: string } | { readonly problem: string } {
  let token: string;
  if ('file' in source) {
    let fd: number | undefined;
    try {
      // Opened without blocking and looked at before it is read: a FIFO (mode 600) named as the
      // token file held `check` for ever, and the primary, which reads it again after each reload.
      fd = openSync(source.file, constants.O_RDONLY | constants.O_NONBLOCK);
      const facts = fstatSync(fd);
      // As a file the config names is: a folder, a FIFO or a device (/dev/zero has no end) is none.
      // Told before its mode: a folder (0755 as mkdir makes one) was told to be made its owner's
      // only, and then that it is no file.
      if (!facts.isFile()) return { problem: `cannot read ${JSON.stringify(source.file)}: not a file` };
      const exposed = exposedMode(facts.mode);
      if (exposed !== undefined) {
        const octal = (facts.mode & 0o777).toString(8).padStart(4, '0');
        return {
          problem: `${JSON.stringify(source.file)} can be ${exposed} (mode ${octal}): whoever reads the token controls the gateway; make it its owner's only (chmod 600)`,
        };
      }
      token = readFileSync(fd, 'utf8').trim();
    } catch (error) {
      return { problem: `cannot read ${JSON.stringify(source.file)}: ${readErrorReason(error)}` };
    } finally {
      if (fd !== undefined) closeSync(fd);
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
  // A request's Authorization field is read byte for byte as Latin-1: a token with a letter
  // beyond ASCII, a control byte, or raw random bytes (U+FFFD once read as UTF-8) was taken and
  // never matched, so the admin API refused every request, `candor reload`'s too.
  if (!/^[\x21-\x7e]+$/.test(token))
    return {
      problem:
        'the admin token must be visible ASCII (letters, digits, punctuation: what `openssl rand -hex 32` writes): a client cannot send another character in its Authorization field as it is read, so every admin request would be refused',
    };
  return { token };
}
