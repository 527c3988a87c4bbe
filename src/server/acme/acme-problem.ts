import { AcmeUnreachable } from './acme-http.ts';

/**
 * An ACME server's problem document (RFC 8555 §6.7, RFC 7807): why it refused. Its `type`
 * (`urn:ietf:params:acme:error:…`) and `detail` are what the log, /status and `diagnose --acme`
 * tell the operator, as the CA said them.
 */
export class AcmeProblem extends Error {
  override readonly name = 'AcmeProblem';
  readonly type: string;
  readonly detail: string;
  /** The HTTP status the problem came with (0 when it came inside an authorization or an order). */
  readonly status: number;
  /** Per identifier, when the CA gave them (RFC 8555 §6.7.1). */
  readonly subproblems: readonly { type: string; detail: string; identifier?: string }[];
  /** When the CA said to come back (its Retry-After, in ms from now): a rate limit's end. */
  readonly retryAfterMs: number | undefined;

  constructor(
    type: string,
    detail: string,
    status: number,
    subproblems: AcmeProblem['subproblems'] = [],
    retryAfterMs?: number,
  ) {
    super(`${type}: ${detail}`);
    this.type = type;
    this.detail = detail;
    this.status = status;
    this.subproblems = subproblems;
    this.retryAfterMs = retryAfterMs;
  }

  /** The problem in a document, or a generic one naming the status when the body is not one. */
  static from(body: unknown, status: number, retryAfterMs?: number): AcmeProblem {
    const doc = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const sub = Array.isArray(doc.subproblems) ? doc.subproblems : [];
    const detail = typeof doc.detail === 'string' ? doc.detail : `the ACME server answered ${status}`;
    // Where the account's holder must go (RFC 8555 §7.3.3: userActionRequired, new terms to
    // agree to): what the operator has to do, told with the detail.
    const instance =
      typeof doc.instance === 'string' && /^https:\/\/\S+$/.test(doc.instance) ? doc.instance : undefined;
    return new AcmeProblem(
      typeof doc.type === 'string' ? doc.type : 'about:blank',
      instance === undefined ? detail : `${detail} (see ${instance})`,
      status,
      sub.map((entry: Record<string, unknown>) => ({
        type: String(entry?.type ?? ''),
        detail: String(entry?.detail ?? ''),
        identifier: (entry?.identifier as { value?: string } | undefined)?.value,
      })),
      retryAfterMs,
    );
  }

  /** The short name of an ACME error type (`urn:ietf:params:acme:error:caa` → `caa`). */
  get kind(): string {
    return this.type.replace(/^urn:ietf:params:acme:error:/, '');
  }
}

/** RFC 8555 §6.7's registry of ACME error types (and RFC 9773's `alreadyReplaced`), by short name. */
const ACME_ERROR_KINDS = new Set([
  'accountDoesNotExist',
  'alreadyReplaced',
  'alreadyRevoked',
  'badCSR',
  'badNonce',
  'badPublicKey',
  'badRevocationReason',
  'badSignatureAlgorithm',
  'caa',
  'compound',
  'connection',
  'dns',
  'externalAccountRequired',
  'incorrectResponse',
  'invalidContact',
  'malformed',
  'orderNotReady',
  'rateLimited',
  'rejectedIdentifier',
  'serverInternal',
  'tls',
  'unauthorized',
  'unsupportedContact',
  'unsupportedIdentifier',
  'userActionRequired',
]);

/**
 * A problem's type as a metric label: one of the registry's, or one of Candor's own
 * (`candor:unreachable`…), else `other`. The CA writes the type, and a label must stay bounded.
 */
export function problemLabel(type: string): string {
  if (/^candor:[a-z-]{1,32}$/.test(type)) return type;
  const kind = type.replace(/^urn:ietf:params:acme:error:/, '');
  return kind !== type && ACME_ERROR_KINDS.has(kind) ? type : 'other';
}

/**
 * A failed order's problem as the log, /status and the metrics tell it: the CA's own document;
 * the transport's failure (`candor:unreachable`); else this gateway's (`candor:internal`: its
 * storage, say), never told as the CA's being out of reach.
 */
export function problemOf(err: unknown): AcmeProblem {
  if (err instanceof AcmeProblem) return err;
  const message = (err as Error).message;
  return err instanceof AcmeUnreachable
    ? new AcmeProblem('candor:unreachable', `the ACME server could not be reached: ${message}`, 0)
    : new AcmeProblem('candor:internal', `this gateway failed the order: ${message}`, 0);
}
