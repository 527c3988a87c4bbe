import { createHash } from 'node:crypto';
import CachePolicy from 'http-cache-semantics';
import { TOKEN } from '../../core/http1/syntax.ts';
import { caseless } from './directive-case.ts';
import type { CacheGrants } from './freshness.ts';
import { SHARED, StoredAnswer } from './stored-answer.ts';

/** A file's first line longer than this is not one of ours: it is not read further. */
export const MAX_HEAD_LINE = 1024 * 1024;

/** A reason phrase, or a field's value: HTAB, SP, visible and obs-text bytes, never CR, LF or NUL (RFC 9112 §4, RFC 9110 §5.5). */
const FIELD_TEXT = /^[\t\x20-\x7e\x80-\xff]*$/;

/** The HTTP versions an upstream answers in: a stored answer's Via says which. */
const VERSIONS = new Set(['1.0', '1.1', '2']);

/**
 * The first line of a file of `cache.dir` holding an answer, a stored one (disk-store.ts) or a
 * fill's as it streams in (fill-file.ts): the answer without its body (the key first: keyOf
 * reads it off the start), then `more`, what the file's kind adds (the body's length and digest,
 * the lock it is written under).
 */
export function headLine(answer: StoredAnswer, more: Record<string, unknown>): string {
  const { key, status, reason, version } = answer;
  return JSON.stringify({ key, status, reason, version, policy: answer.policy.toObject(), ...more });
}

/**
 * The answer a stored file's bytes hold for `key`, or why they hold none: a file cut short (a disk
 * that filled, a copy), its body or its first line changed since (a bit flipped, an edit), is
 * never served as whole.
 */
export function answerOfFile(bytes: Buffer, key: string, grants: CacheGrants): StoredAnswer | string {
  const found = headOf(bytes);
  if (found === undefined) return 'its first line is not one of ours';
  const { head } = found;
  const body = bytes.subarray(found.body);
  if (head.length !== body.length || head.digest !== digestOf(body))
    return 'its body is cut or changed: not the length and digest its first line says';
  try {
    return answerOfHead(head, key, body, grants) ?? `its first line is not a well-formed answer of the key`;
  } catch (err) {
    return `its first line's policy cannot be read (${(err as Error).message})`;
  }
}

/** What a file's first line says of its body, so that a body cut or changed since is known. */
export function digestOf(body: Buffer): string {
  return createHash('sha256').update(body).digest('base64');
}

/** The answer a first line (parsed) names, with `body`; undefined when it is not one of ours for `key`. */
export function answerOfHead(
  head: Record<string, unknown>,
  key: string,
  body: Buffer,
  grants: CacheGrants,
): StoredAnswer | undefined {
  const { status, reason, version } = head;
  if (head.key !== key || !Number.isInteger(status) || typeof reason !== 'string') return undefined;
  // A head changed on the disk (a bit flipped, an edit: the digest covers the body alone) is not
  // sent as it reads: a status no upstream answer is stored with, a line break that would start a
  // field of its own in the answer's head.
  if ((status as number) < 200 || (status as number) > 599 || !FIELD_TEXT.test(reason)) return undefined;
  if (typeof head.policy !== 'object' || head.policy === null) return undefined;
  const { resh, reqh } = head.policy as { resh?: unknown; reqh?: unknown };
  // No request fields are kept (null) unless the answer's Vary names some.
  if (!wellFormedFields(resh) || (reqh !== null && !wellFormedFields(reqh))) return undefined;
  // A file written before `immutable` stopped adding freshness (stored-answer.ts's SHARED) has the library's 24 h.
  const policy = caseless(
    CachePolicy.fromObject({
      ...(head.policy as CachePolicy.CachePolicyObject),
      imm: SHARED.immutableMinTimeToLive,
    }),
  );
  // Written before the version was kept: an answer of HTTP/1.1, as most are.
  const kept = typeof version === 'string' && VERSIONS.has(version) ? version : '1.1';
  return new StoredAnswer(key, policy, status as number, reason, body, grants, kept);
}

/** Fields as http-cache-semantics keeps them (a name to a value, or to values): token names, values of field text. */
function wellFormedFields(fields: unknown): boolean {
  if (typeof fields !== 'object' || fields === null) return false;
  for (const [name, value] of Object.entries(fields)) {
    if (!TOKEN.test(name)) return false;
    const values: unknown[] = Array.isArray(value) ? value : [value];
    if (!values.every((one) => typeof one === 'string' && FIELD_TEXT.test(one))) return false;
  }
  return true;
}

/** The parsed first line of `bytes` (a file's start) and where its body starts; undefined: none there, or not JSON. */
export function headOf(bytes: Buffer): { head: Record<string, unknown>; body: number } | undefined {
  const end = bytes.indexOf(10);
  if (end === -1 || end > MAX_HEAD_LINE) return undefined;
  try {
    const head = JSON.parse(bytes.subarray(0, end).toString('utf8'));
    return typeof head === 'object' && head !== null ? { head, body: end + 1 } : undefined;
  } catch {
    return undefined;
  }
}
