import { clientCertFieldProblem, reservedHeaderProblem } from '../../core/config/routing-values.ts';
import type { RouteConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import { hostnameOf } from '../../core/net/hostname.ts';
import type { AnswerEdit } from '../../core/net/own-answer.ts';
import { vouchedClient } from '../../core/net/trust.ts';
import type { Admitted } from '../admit/admit-request.ts';
import { fieldsAfterAccess } from '../admit/fields-after-access.ts';
import { isProxysWord } from '../forward/proxys-words.ts';
import type { Routed } from '../route/route-request.ts';
import type { StageRequest } from '../stages/stage.ts';
import type { StageRun } from '../stages/stage-run.ts';
import type { SessionRequest } from './session-request.ts';
import { StageBody } from './stage-body.ts';

/** The request as its route's stages read it (stage.ts), made once the route is known. */
export function stageRequestOf(
  req: SessionRequest,
  routed: Routed,
  accessEdit: () => AnswerEdit | undefined,
): StageRequest {
  return new SessionStageRequest(req, routed, accessEdit);
}

/** A StageRequest whose map of edits going upstream is made only by a stage that edits (most make none). */
class SessionStageRequest implements StageRequest {
  readonly head: StageRequest['head'];
  readonly fields: StageRequest['fields'];
  readonly record: StageRequest['record'];
  readonly spans: StageRequest['spans'];
  readonly background: StageRequest['background'];
  readonly route: string;
  readonly path: string;
  readonly upstreamPath: string;
  readonly listener: StageRequest['listener'];
  readonly #req: SessionRequest;
  readonly #routed: Routed;
  #edits: Map<string, string | undefined> | undefined;
  /** The body read whole at a stage's ask: made by the first ask (most requests make none). */
  #body: StageBody | undefined;
  /** The client as trust_forwarded_from vouches for it: found by the first read (a walk of X-Forwarded-For). */
  #clientIp: string | undefined;
  /** The access stages' edit, once they let the request in (the route's stage run holds it). */
  readonly #accessEdit: () => AnswerEdit | undefined;
  /** The fields as that edit left them: made by the first read past access (a plugin's `headers`). */
  #admitted: FieldMap | undefined;

  constructor(req: SessionRequest, routed: Routed, accessEdit: () => AnswerEdit | undefined) {
    const { head, fields, record, exchange } = req;
    this.#req = req;
    this.#routed = routed;
    this.head = head;
    this.fields = fields;
    this.record = record;
    this.spans = req.spans;
    this.background = exchange.background;
    this.route = routed.route.name;
    this.path = routed.path;
    this.upstreamPath = typeof routed.upstreamPath === 'string' ? routed.upstreamPath : routed.path;
    this.listener = req.listener;
    this.#accessEdit = accessEdit;
  }

  admittedFields(): FieldMap {
    if (this.#admitted !== undefined) return this.#admitted;
    const edit = this.#accessEdit();
    // The fields in which a proxy speaks of the client (X-Forwarded-*, Forwarded, X-Real-IP and
    // kin) are left out when the peer is no proxy in trust_forwarded_from: the upstream never
    // gets them (request-headers.ts), and a plugin reading the client there would be fooled.
    const trusted = this.#req.runtime.trust.has(this.record.clientAddress);
    // Before access decided (or without an edit) there is nothing to keep: the client's fields.
    if (edit === undefined) return trusted ? this.fields : withoutProxysWords(this.fields);
    const admitted = fieldsAfterAccess(this.head.headers, this.fields, edit);
    this.#admitted = trusted ? admitted : withoutProxysWords(admitted);
    return this.#admitted;
  }

  get closed(): boolean {
    return this.#req.answer.closed;
  }

  /** Made when a stage reads it (most never do). */
  get host(): string {
    return hostnameOf(this.record.host);
  }

  get requestId(): string {
    return this.record.id;
  }

  /** Found once: the header rules read it for the request's fields and again for each answer's. */
  get clientIp(): string {
    // `unknown` (RFC 7239's word) where a trusted hop's own entry names no address: the lists
    // refuse that client, and the proxy's own address in its place (what rate limits key it by)
    // would tell an upstream that reads {client_ip} the request came from inside.
    this.#clientIp ??=
      vouchedClient(this.record.clientAddress, this.fields, this.#req.runtime.trust) ?? 'unknown';
    return this.#clientIp;
  }

  // Read from the session's own, not copied into every request's run (few stages read them).
  get authority(): string {
    return this.#routed.authority;
  }

  get scheme(): string {
    return this.#req.listener.protocol;
  }

  get upstreamFields(): Map<string, string | undefined> {
    this.#edits ??= new Map();
    return this.#edits;
  }

  get upstreamEdits(): ReadonlyMap<string, string | undefined> | undefined {
    return this.#edits;
  }

  readBody(limit: number, reader: string): Promise<Buffer> {
    this.#body ??= new StageBody(this.#req, this.#routed.route);
    return this.#body.read(limit, reader);
  }

  get bodyRead(): Buffer | undefined {
    return this.#body?.bytes;
  }

  get bodyReading(): Promise<void> | undefined {
    return this.#body?.pending;
  }

  bodyWaitMs(): number {
    return this.#body === undefined ? 0 : this.#body.waitedMs();
  }
}

/**
 * The admitted request with the stages' edits of its fields on the way upstream, after the access
 * stages' own: a field Candor writes itself (hop-by-hop, forwarding, tracing, the request id) is
 * out of a stage's reach, as it is out of the route's header rules'; so is a value of RFC 9440's
 * Client-Cert fields (read upstream as a verified certificate: the gateway's, or the trusted
 * terminator's in front), which a stage may only delete.
 */
export function withStageEdits(admitted: Admitted, stages: StageRun | undefined): Admitted {
  const edits = stages?.upstreamEdits;
  if (edits === undefined || edits.size === 0) return admitted;
  const kept = new Map(
    [...edits].filter(
      ([name, value]) =>
        reservedHeaderProblem(name) === undefined &&
        (value === undefined || clientCertFieldProblem(name) === undefined),
    ),
  );
  if (kept.size === 0) return admitted;
  const before = admitted.requestEdit;
  const stageEdit = (from: readonly string[]): string[] => {
    const out: string[] = [];
    for (let i = 0; i < from.length; i += 2)
      if (!kept.has(from[i].toLowerCase())) out.push(from[i], from[i + 1]);
    for (const [name, value] of kept) if (value !== undefined) out.push(name, value);
    return out;
  };
  return {
    ...admitted,
    requestEdit: (headers) => stageEdit(before === undefined ? headers : before(headers)),
    stageEdit,
  };
}

/** A route without an upstream whose stages did not answer the request (a bug: its static stage answers every request). */
export function unanswered(route: RouteConfig): Failure {
  return new Failure(
    'proxy_internal_error',
    `route ${route.name} has no upstream and none of its stages answered`,
  );
}

/**
 * `fields` without those only a proxy in front may write (X-Forwarded-*, Forwarded, X-Real-IP
 * and kin: isProxysWord): the same map when it has none (most requests), a copy otherwise.
 */
function withoutProxysWords(fields: FieldMap): FieldMap {
  let out: Record<string, string | string[] | undefined> | undefined;
  for (const name in fields)
    if (name === 'forwarded' || isProxysWord(name)) {
      // No prototype, as a field map's: a field named `constructor` is a field like any other.
      out ??= Object.assign(Object.create(null) as Record<string, string | string[] | undefined>, fields);
      delete out[name];
    }
  return out ?? fields;
}
