import type { ForwardAuthConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import type { AnswerEdit } from '../../core/net/own-answer.ts';
import { authHopFailure, callAuthHop } from './auth-hop.ts';

/** A field value the service may hand on: printable ASCII, bounded (it becomes a request field or a challenge). */
const FIELD_VALUE = /^[\x20-\x7e]{1,4096}$/;

/** What the auth service said: let in (with its fields for the upstream), refused (401/403), or the hop failed. */
export type ForwardVerdict =
  | { readonly allowed: AnswerEdit }
  | { readonly refused: 401 | 403; readonly challenge: string | undefined }
  | { readonly failed: Failure };

/** What the service is told of the request beyond the fields it asked for. */
export interface ForwardFacts {
  readonly method: string;
  readonly target: string;
  readonly host: string;
  readonly clientAddress: string;
}

/**
 * Forward authentication (as nginx's auth_request, Traefik's ForwardAuth): each request is
 * asked of an auth service by a GET with the configured client fields and X-Forwarded-Method,
 * -Uri, -Host and -For. A 2xx lets it in, `copy_headers` of that answer going upstream (the
 * client's own copies removed); its 401 (with its WWW-Authenticate) and 403 are passed on;
 * anything else is the auth hop failing: 503 for its 5xx, 502 for another answer, 502 or 504
 * by the shape when it cannot be reached, never a 401.
 */
export class ForwardAuth {
  readonly #config: ForwardAuthConfig;
  readonly #hop: string;

  constructor(config: ForwardAuthConfig) {
    this.#config = config;
    this.#hop = `auth:${config.name}`;
  }

  async verify(fields: FieldMap, facts: ForwardFacts): Promise<ForwardVerdict> {
    const config = this.#config;
    const headers = new Headers();
    for (const name of config.sendHeaders) {
      const value = fields[name];
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    headers.set('x-forwarded-method', facts.method);
    headers.set('x-forwarded-uri', facts.target);
    headers.set('x-forwarded-host', facts.host);
    headers.set('x-forwarded-for', facts.clientAddress);
    let response: Response;
    try {
      response = await callAuthHop(config.url, { headers }, config.timeout);
    } catch (err) {
      return { failed: this.#failure(err) };
    }
    // The service's body says nothing the gateway reads.
    void response.body?.cancel().catch(() => {});
    const { status } = response;
    if (status >= 200 && status < 300) return { allowed: this.#copy(response.headers) };
    if (status === 401 || status === 403) {
      const challenge = response.headers.get('www-authenticate') ?? undefined;
      return {
        refused: status,
        challenge: challenge !== undefined && FIELD_VALUE.test(challenge) ? challenge : undefined,
      };
    }
    return {
      failed: authHopFailure(
        status >= 500
          ? new Failure('destination_unavailable', `it answered ${status}`)
          : new Failure('http_protocol_error', `it answered ${status}, neither 2xx, 401 nor 403`, {
              stage: 'head_received',
            }),
        this.#hop,
        'the auth service',
      ),
    };
  }

  #failure(err: unknown): Failure {
    const failure =
      err instanceof Failure
        ? err
        : new Failure('proxy_internal_error', 'the auth service could not be asked', { cause: err });
    return authHopFailure(failure, this.#hop, 'the auth service');
  }

  /** The upstream request's edit: every copied field removed, then the service's values. */
  #copy(answer: Headers): AnswerEdit {
    const names = new Set(this.#config.copyHeaders);
    const added: string[] = [];
    for (const name of names) {
      const value = answer.get(name);
      if (value !== null && FIELD_VALUE.test(value)) added.push(name, value);
    }
    return (headers) => {
      const out: string[] = [];
      for (let i = 0; i < headers.length; i += 2)
        if (!names.has(headers[i].toLowerCase())) out.push(headers[i], headers[i + 1]);
      out.push(...added);
      return out;
    };
  }
}
