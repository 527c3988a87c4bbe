import type { CorsConfig } from '../../core/config/types.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import { type AnswerEdit, OwnAnswer } from '../../core/net/own-answer.ts';
import { withoutListEnd } from '../../core/ows.ts';

/** Longer than any origin a browser sends: an Origin past it is not one, and is not compared. */
const MAX_ORIGIN = 512;
/**
 * The fields that say who may read an answer: the route's rules write them on every answer,
 * in place of any the upstream sent (two Access-Control-Allow-Origin fields fail in every browser).
 */
const ANSWER_FIELDS = new Set([
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-expose-headers',
]);
/** What may stand for "*" in "https://*.example.com": one or more host labels. */
const LABELS = /^[a-z0-9-]+(\.[a-z0-9-]+)*$/;
/**
 * The Fetch standard's CORS-safelisted methods: a browser sends them without asking, and takes a
 * preflight's answer for one whatever Access-Control-Allow-Methods lists, so refusing its
 * preflight would refuse only the variant with a custom field.
 */
const SAFELISTED = new Set(['GET', 'HEAD', 'POST']);
/** A method or field name (RFC 9110 §5.6.2): what a preflight may ask for. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The one value of a field, or undefined when absent or repeated (a repeated Origin is not one). */
function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * A route's CORS rules (the Fetch standard's CORS protocol), answered by the gateway: a
 * preflight never reaches the upstream (so it is answered while the upstream is down), and
 * every answer to an allowed origin carries the CORS fields — the upstream's and the
 * gateway's own errors alike, so a browser app reads the real 502 and its Proxy-Status
 * rather than an opaque "CORS error".
 */
export class CorsPolicy {
  readonly #config: CorsConfig;
  readonly #any: boolean;
  readonly #exact: ReadonlySet<string>;
  /** "https://*.example.com:8443" as ["https://", ".example.com:8443"]. */
  readonly #wildcards: readonly (readonly [string, string])[];
  /** undefined: "*", any method or field a preflight asks for (answered with what it asked). */
  readonly #methods: ReadonlySet<string> | undefined;
  readonly #headers: ReadonlySet<string> | undefined;
  readonly #allowMethods: string;
  readonly #allowHeaders: string;
  readonly #expose: string;

  constructor(config: CorsConfig) {
    this.#config = config;
    this.#any = config.origins.includes('*');
    this.#exact = new Set(config.origins.filter((origin) => !origin.includes('*')));
    this.#wildcards = config.origins
      .filter((origin) => origin.includes('://*.'))
      .map((origin) => {
        const star = origin.indexOf('*');
        return [origin.slice(0, star), origin.slice(star + 1)] as const;
      });
    this.#methods = config.methods.includes('*') ? undefined : new Set(config.methods);
    this.#headers = config.headers.includes('*') ? undefined : new Set(config.headers);
    this.#allowMethods = config.methods.join(', ');
    this.#allowHeaders = config.headers.join(', ');
    this.#expose = config.exposeHeaders.join(', ');
  }

  /** Whether a browser script on this origin may read the route's answers. */
  allows(origin: string): boolean {
    if (this.#any) return true;
    if (origin.length > MAX_ORIGIN) return false;
    const lower = origin.toLowerCase();
    if (this.#exact.has(lower)) return true;
    for (const [head, tail] of this.#wildcards)
      if (
        lower.length > head.length + tail.length &&
        lower.startsWith(head) &&
        lower.endsWith(tail) &&
        LABELS.test(lower.slice(head.length, lower.length - tail.length))
      )
        return true;
    return false;
  }

  /** A CORS preflight: an OPTIONS that carries Origin and Access-Control-Request-Method. */
  static isPreflight(method: string, fields: FieldMap): boolean {
    return (
      method === 'OPTIONS' &&
      fields.origin !== undefined &&
      fields['access-control-request-method'] !== undefined
    );
  }

  /** The preflight's answer (204 with the route's rules), or why it is refused (for the log). */
  preflight(fields: FieldMap): OwnAnswer | string {
    const origin = single(fields.origin);
    if (origin === undefined || !this.allows(origin)) return `cors origin ${describe(origin)} not allowed`;
    const method = single(fields['access-control-request-method']);
    if (
      method === undefined ||
      !(SAFELISTED.has(method) || (this.#methods?.has(method) ?? TOKEN.test(method)))
    )
      return `cors method ${describe(method)} not allowed`;
    const asked = fields['access-control-request-headers'];
    const names: string[] = [];
    for (const name of (Array.isArray(asked) ? asked.join(',') : (asked ?? '')).split(',')) {
      const lower = name.trim().toLowerCase();
      if (lower === '') continue;
      if (!(this.#headers?.has(lower) ?? TOKEN.test(lower)))
        return `cors header ${describe(lower)} not allowed`;
      names.push(lower);
    }
    const config = this.#config;
    // "*" is answered with what was asked: a browser reads a literal "*" as any only without
    // credentials, and never as Authorization.
    const allowMethods = this.#methods === undefined ? method : this.#allowMethods;
    const allowHeaders = this.#headers === undefined ? names.join(', ') : this.#allowHeaders;
    const headers = [...this.#originFields(origin), 'access-control-allow-methods', allowMethods];
    if (allowHeaders !== '') headers.push('access-control-allow-headers', allowHeaders);
    if (config.maxAge !== undefined) headers.push('access-control-max-age', String(config.maxAge));
    headers.push('vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    return new OwnAnswer(204, headers);
  }

  /**
   * The edit every answer to this request gets (a preflight's 204 included, whose fields it
   * keeps): the CORS fields for an allowed origin, and `Vary: Origin`.
   */
  answerEdit(method: string, request: FieldMap): AnswerEdit {
    const one = single(request.origin);
    const fields = one !== undefined && this.allows(one) ? this.#originFields(one) : [];
    // A preflight's answer exposes nothing: what a script reads is the real answer's.
    if (fields.length > 0 && !CorsPolicy.isPreflight(method, request))
      fields.push('access-control-expose-headers', this.#expose);
    return (headers) => {
      const out: string[] = [];
      // Every Vary field is one list (RFC 9110 §5.3): Origin (or *) in any of them is enough.
      let varied = listsOrigin(headers);
      for (let i = 0; i < headers.length; i += 2) {
        const lower = headers[i].toLowerCase();
        if (ANSWER_FIELDS.has(lower)) continue;
        let value = headers[i + 1];
        if (lower === 'vary' && !varied) {
          varied = true;
          // An empty Vary (no member), or one ending in a comma, gets no empty member from this
          // hop (RFC 9110 §5.6.1 forbids a sender to generate one): `Vary: ,` is `Origin`.
          const own = withoutListEnd(value);
          value = own === '' ? 'Origin' : `${own}, Origin`;
        }
        out.push(headers[i], value);
      }
      if (!varied) out.push('vary', 'Origin');
      out.push(...fields);
      return out;
    };
  }

  #originFields(origin: string): string[] {
    const { credentials } = this.#config;
    // "*" is the cache-friendly answer when nothing depends on the caller (no credentials).
    const fields = ['access-control-allow-origin', this.#any && !credentials ? '*' : origin];
    if (credentials) fields.push('access-control-allow-credentials', 'true');
    return fields;
  }
}

/** Whether an answer's Vary fields already list Origin, or `*` (which covers it). */
function listsOrigin(headers: readonly string[]): boolean {
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i].toLowerCase() === 'vary' && /(^|,)\s*(origin|\*)\s*(,|$)/i.test(headers[i + 1]))
      return true;
  return false;
}

/** A client's value for the log: bounded, quoted. */
function describe(value: string | undefined): string {
  return value === undefined ? '(none)' : JSON.stringify(value.slice(0, 100));
}
