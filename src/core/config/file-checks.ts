/**
 * Certificate, key and CA files must be readable when the config is loaded: finding out at
 * the first TLS handshake turns a typo into an outage, and a config that `candor check`
 * passed must start. For the same reason a certificate must go with its key, and an htpasswd
 * file must hold only hashes the gateway can check.
 */

import { X509Certificate } from 'node:crypto';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { PROBLEM_MEMBERS } from '../failure/error-body.ts';
import { templateProblems } from '../failure/page-template.ts';
import { crlProblem } from './client-certificate-checks.ts';
import { parseHtpasswd } from './htpasswd.ts';
import { entriesOf, itemsOf, mappingAt, stringAt } from './raw-access.ts';
import { readErrorReason } from './read-error.ts';
import type { Report } from './report.ts';
import type { PathSegment } from './schema.ts';
import { type SecretPresence, secretAbsent } from './secrets.ts';
import { firstUndecodable, withoutBom } from './utf8.ts';

export function checkFiles(
  document: unknown,
  baseDir: string,
  report: Report,
  secrets: SecretPresence = 'required',
): void {
  const root = document !== null && typeof document === 'object' ? (document as Record<string, unknown>) : {};
  for (const [index, listener] of itemsOf(root.listen)) {
    const tls = mappingAt(listener, 'tls');
    checkPair(tls, ['listen', index, 'tls'], baseDir, report, secrets);
    for (const [n, pair] of itemsOf(tls?.certificates))
      checkPair(pair, ['listen', index, 'tls', 'certificates', n], baseDir, report, secrets);
    checkClientCaFiles(mappingAt(tls, 'client_certificates'), index, baseDir, report);
  }
  checkErrorPages(mappingAt(mappingAt(root, 'errors'), 'pages'), baseDir, report);
  for (const [index, route] of itemsOf(root.routes)) {
    const basic = mappingAt(mappingAt(route, 'auth'), 'basic');
    const path: PathSegment[] = ['routes', index, 'auth', 'basic', 'users_file'];
    if (!checkFile(basic, 'users_file', path, baseDir, report)) continue;
    const file = resolve(baseDir, stringAt(basic, 'users_file') as string);
    const { users, problems } = parseHtpasswd(readFileSync(file, 'utf8'));
    // One message: a field gets one report.
    if (problems.length > 0) report(path, `${JSON.stringify(file)}: ${problems.join('; ')}`);
    if (problems.length === 0 && users.size === 0) report(path, `${JSON.stringify(file)} holds no user`);
  }
  for (const [index, route] of itemsOf(root.routes)) {
    const jwt = mappingAt(mappingAt(route, 'auth'), 'jwt');
    const path: PathSegment[] = ['routes', index, 'auth', 'jwt', 'keys_file'];
    if (!checkFile(jwt, 'keys_file', path, baseDir, report)) continue;
    const file = resolve(baseDir, stringAt(jwt, 'keys_file') as string);
    const problem = keySetProblem(readFileSync(file, 'utf8'));
    if (problem !== undefined) report(path, `${JSON.stringify(file)}: ${problem}`);
  }
  for (const [index, route] of itemsOf(root.routes)) {
    const served = stringAt(mappingAt(route, 'static'), 'root');
    if (served === undefined) continue;
    const dir = resolve(baseDir, served);
    let problem: string | undefined;
    try {
      if (!statSync(dir).isDirectory()) problem = 'is not a directory';
      // Entering it is what opening a file by name under it needs (no listing is ever made): a
      // root the gateway's user may not enter answered every file with the 404 a missing one
      // gets (EACCES is told as one, for the client's sake), and logged only "no file for …".
      else accessSync(dir, constants.X_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // `candor check --without-secrets` (a CI box) checks a config without the machine's files:
      // a site's directory is deployed beside the gateway, as its TLS keys are.
      if (code === 'ENOENT' && secrets === 'may-be-absent') continue;
      problem =
        code === 'EACCES' || code === 'EPERM'
          ? `cannot be entered by the gateway's user (${code}): every file under it would be a 404; give it search permission (chmod o+x, or a group the gateway is in)`
          : `cannot be read: ${readErrorReason(err)}`;
    }
    if (problem !== undefined)
      report(['routes', index, 'static', 'root'], `${JSON.stringify(dir)} ${problem}`);
  }
  for (const [name, upstream] of entriesOf(root.upstreams)) {
    const tls = mappingAt(upstream, 'tls');
    if (checkFile(tls, 'ca', ['upstreams', name, 'tls', 'ca'], baseDir, report)) {
      const file = resolve(baseDir, stringAt(tls, 'ca') as string);
      const problem = caProblem(readFileSync(file, 'latin1'));
      if (problem !== undefined)
        report(['upstreams', name, 'tls', 'ca'], `${JSON.stringify(file)} ${problem}`);
    }
    // A list OpenSSL cannot load would fail every handshake with the upstream, or none.
    if (checkFile(tls, 'crl', ['upstreams', name, 'tls', 'crl'], baseDir, report)) {
      const file = resolve(baseDir, stringAt(tls, 'crl') as string);
      const problem = crlProblem(readFileSync(file, 'latin1'));
      if (problem !== undefined)
        report(['upstreams', name, 'tls', 'crl'], `${JSON.stringify(file)} ${problem}`);
    }
    checkPair(tls, ['upstreams', name, 'tls'], baseDir, report, secrets);
  }
}

/**
 * Why a CA file's text trusts nothing, or undefined: TLS takes a file without one certificate
 * (a key, a typo'd path to another file) without a word and trusts only the system's roots, so
 * every handshake with the private CA's upstream failed as `tls_certificate_error`.
 */
export function caProblem(text: string): string | undefined {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)';
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      return `certificate ${index + 1} cannot be read: ${(error as Error).message}`;
    }
  }
  return undefined;
}

/** `client_certificates`: a CA file that holds certificates, and a CRL file OpenSSL takes (a broken one would refuse every client). */
function checkClientCaFiles(
  parent: Record<string, unknown> | undefined,
  index: number,
  baseDir: string,
  report: Report,
): void {
  const at: PathSegment[] = ['listen', index, 'tls', 'client_certificates'];
  for (const [field, problemOf] of [
    ['ca', caProblem],
    ['crl', crlProblem],
  ] as const) {
    if (!checkFile(parent, field, [...at, field], baseDir, report)) continue;
    const file = resolve(baseDir, stringAt(parent, field) as string);
    const problem = problemOf(readFileSync(file, 'latin1'));
    if (problem !== undefined) report([...at, field], `${JSON.stringify(file)} ${problem}`);
  }
}

/**
 * Both files readable, and the key the certificate's (a mismatch would fail every handshake).
 * A private key that is not there, when secrets may be absent, is skipped with the match.
 */
function checkPair(
  parent: Record<string, unknown> | undefined,
  path: PathSegment[],
  baseDir: string,
  report: Report,
  secrets: SecretPresence,
): void {
  const key = stringAt(parent, 'key');
  const keyAbsent =
    secrets === 'may-be-absent' &&
    key !== undefined &&
    key !== '' &&
    secretAbsent({ file: resolve(baseDir, key) });
  const readable = (keyAbsent ? ['cert'] : ['cert', 'key']).map((field) =>
    checkFile(parent, field, [...path, field], baseDir, report),
  );
  const cert = stringAt(parent, 'cert');
  if (keyAbsent || !readable.every(Boolean) || cert === undefined || key === undefined) return;
  // A certificate file that holds none (replaced by a broken one, cut short, the key copied
  // over it) is the cert's fault: the pair's check below would blame the key for it.
  const certFile = resolve(baseDir, cert);
  const certProblem = caProblem(readFileSync(certFile, 'latin1'));
  if (certProblem !== undefined)
    return report([...path, 'cert'], `${JSON.stringify(certFile)} ${certProblem}`);
  try {
    createSecureContext({
      cert: readFileSync(resolve(baseDir, cert)),
      key: readFileSync(resolve(baseDir, key)),
    });
  } catch (error) {
    report([...path, 'key'], `cannot use this key with ${JSON.stringify(cert)}: ${(error as Error).message}`);
  }
}

/**
 * An error page goes out (the template rendered, or the members copied) with every failure
 * answer, and is held in every worker: past this it is something else named by mistake (a log,
 * an archive), read whole at each load and reload, and sent whole with each 502.
 */
const MAX_PAGE_BYTES = 1024 * 1024;

/**
 * errors.pages: each file at most MAX_PAGE_BYTES; the HTML template must name only placeholders
 * that exist (each problem with the template's own line), the JSON file must hold one object
 * whose members are not the gateway's.
 */
function checkErrorPages(pages: Record<string, unknown> | undefined, baseDir: string, report: Report): void {
  const path = ['errors', 'pages'];
  if (checkPage(pages, 'html', baseDir, report)) {
    const file = resolve(baseDir, stringAt(pages, 'html') ?? '');
    const text = pageText(file, [...path, 'html'], 'which its answers say they are (charset=utf-8)', report);
    if (text !== undefined)
      for (const problem of templateProblems(text))
        report([...path, 'html'], `${JSON.stringify(file)} line ${problem.line}: ${problem.message}`);
  }
  if (checkPage(pages, 'json', baseDir, report)) {
    const file = resolve(baseDir, stringAt(pages, 'json') ?? '');
    const text = pageText(file, [...path, 'json'], 'as JSON must be (RFC 8259 §8.1)', report);
    if (text === undefined) return;
    let members: unknown;
    try {
      members = JSON.parse(text);
    } catch (error) {
      report([...path, 'json'], `${JSON.stringify(file)} is not valid JSON: ${(error as Error).message}`);
      return;
    }
    if (members === null || typeof members !== 'object' || Array.isArray(members)) {
      report(
        [...path, 'json'],
        `${JSON.stringify(file)} must hold one JSON object (its members are added to problem+json bodies)`,
      );
      return;
    }
    const taken = Object.keys(members).filter((name) => PROBLEM_MEMBERS.includes(name));
    if (taken.length > 0)
      report(
        [...path, 'json'],
        `${JSON.stringify(file)} names ${taken.map((n) => JSON.stringify(n)).join(', ')}, which the gateway writes itself; use other member names`,
      );
  }
}

/**
 * A page file's text, or undefined (reported) where it is not UTF-8: read as UTF-8, a page saved
 * as Latin-1 went out with a U+FFFD for each such byte ("Caf\ufffd" where its editor shows "Café").
 */
function pageText(file: string, path: PathSegment[], why: string, report: Report): string | undefined {
  const bytes = readFileSync(file);
  const text = bytes.toString('utf8');
  const bad = firstUndecodable(bytes, text);
  if (bad === undefined) return withoutBom(text);
  const line = text.slice(0, bad.offset).split('\n').length;
  report(
    path,
    `${JSON.stringify(file)} line ${line} is not UTF-8 (byte 0x${bad.byte.toString(16).padStart(2, '0')}), ${why}; save it as UTF-8`,
  );
  return undefined;
}

/** checkFile for errors.pages.html or .json, and the file within MAX_PAGE_BYTES. */
function checkPage(
  pages: Record<string, unknown> | undefined,
  field: 'html' | 'json',
  baseDir: string,
  report: Report,
): boolean {
  const path = ['errors', 'pages', field];
  if (!checkFile(pages, field, path, baseDir, report)) return false;
  const file = resolve(baseDir, stringAt(pages, field) ?? '');
  const { size } = statSync(file);
  if (size <= MAX_PAGE_BYTES) return true;
  report(
    path,
    `${JSON.stringify(file)} is ${size} bytes, past ${MAX_PAGE_BYTES / 1024 / 1024} MiB: an error page goes out with every failure answer`,
  );
  return false;
}

function checkFile(
  parent: Record<string, unknown> | undefined,
  field: string,
  path: PathSegment[],
  baseDir: string,
  report: Report,
): boolean {
  const written = stringAt(parent, field);
  if (written === undefined || written === '') return false;
  const problem = unreadableReason(resolve(baseDir, written));
  if (problem === undefined) return true;
  report(path, `cannot read ${JSON.stringify(resolve(baseDir, written))}: ${problem}`);
  return false;
}

/** Why `file` cannot be read as a regular file (a device, a folder, missing), or undefined. */
export function unreadableReason(file: string): string | undefined {
  try {
    if (!statSync(file).isFile()) return 'not a file';
    accessSync(file, constants.R_OK);
    return undefined;
  } catch (error) {
    return readErrorReason(error);
  }
}

/** Why a JSON Web Key Set file cannot be used (RFC 7517 §5), or undefined. */
function keySetProblem(text: string): string | undefined {
  let set: unknown;
  try {
    set = JSON.parse(text);
  } catch (error) {
    return `not JSON (${(error as Error).message})`;
  }
  const keys = (set as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0)
    return 'expected a JSON Web Key Set, {"keys": [ ... ]} with at least one key';
  for (const [i, key] of keys.entries()) {
    const kty = (key as { kty?: unknown } | null)?.kty;
    if (kty !== 'RSA' && kty !== 'EC' && kty !== 'OKP')
      return `key ${i}: expected a public key (kty RSA, EC or OKP), got ${JSON.stringify(kty)}`;
    if ((key as { d?: unknown }).d !== undefined)
      return `key ${i} is a private key: publish only the public part`;
  }
  return undefined;
}
