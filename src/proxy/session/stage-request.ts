import { reservedHeaderProblem } from '../../core/config/routing-values.ts';
import type { RouteConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { Admitted } from '../admit/admit-request.ts';
import { readWholeForStage, tooLarge } from '../forward/request-body.ts';
import { hostnameOf } from '../route/request-target.ts';
import type { Routed } from '../route/route-request.ts';
import type { StageRun } from '../stages/route-stages.ts';
import type { StageRequest } from '../stages/stage.ts';
import type { SessionRequest } from './session-request.ts';

/** The request as its route's stages read it (stage.ts), made once the route is known. */
export function stageRequestOf(req: SessionRequest, routed: Routed): StageRequest {
  return new SessionStageRequest(req, routed);
}

/** A StageRequest whose map of edits going upstream is made only by a stage that edits (most make none). */
class SessionStageRequest implements StageRequest {
  readonly head: StageRequest['head'];
  readonly fields: StageRequest['fields'];
  readonly record: StageRequest['record'];
  readonly host: string;
  readonly background: boolean;
  readonly route: string;
  readonly upstreamPath: string;
  /** The body read whole at a stage's ask, once it is (every attempt sends it). */
  bodyRead: Buffer | undefined;
  readonly #req: SessionRequest;
  readonly #config: RouteConfig;
  #edits: Map<string, string | undefined> | undefined;
  /** The body's read: under way or done (a failed one is forgotten: the next ask reads again). */
  #reading: Promise<Buffer> | undefined;
  #waited = 0;
  #waitingSince: number | undefined;

  constructor(req: SessionRequest, routed: Routed) {
    const { head, fields, record, exchange } = req;
    this.#req = req;
    this.#config = routed.route;
    this.head = head;
    this.fields = fields;
    this.record = record;
    this.host = hostnameOf(record.host);
    this.background = exchange.refresh !== undefined;
    this.route = routed.route.name;
    this.upstreamPath = typeof routed.upstreamPath === 'string' ? routed.upstreamPath : routed.path;
  }

  get upstreamFields(): Map<string, string | undefined> {
    this.#edits ??= new Map();
    return this.#edits;
  }

  get upstreamEdits(): ReadonlyMap<string, string | undefined> | undefined {
    return this.#edits;
  }

  readBody(limit: number, reader: string): Promise<Buffer> {
    const bound = Math.min(limit, this.#config.limits.buffer);
    this.#reading ??= this.#read(bound, reader);
    // A later ask with a smaller bound than the body read: past it, as the first read would have been.
    return this.#reading.then((bytes) =>
      bytes.length > bound ? Promise.reject(tooLarge(bound, reader)) : bytes,
    );
  }

  bodyWaitMs(): number {
    const since = this.#waitingSince;
    return since === undefined ? this.#waited : this.#waited + performance.now() - since;
  }

  #read(bound: number, reader: string): Promise<Buffer> {
    const { exchange, runtime } = this.#req;
    const { limits } = runtime.config;
    return new Promise<Buffer>((resolve, reject) => {
      const since = performance.now();
      this.#waitingSince = since;
      const settle = (read: Buffer | Failure) => {
        if (this.#waitingSince === undefined) return;
        this.#waited += performance.now() - since;
        this.#waitingSince = undefined;
        if (read instanceof Failure) {
          this.#reading = undefined;
          return reject(read);
        }
        this.bodyRead = read;
        resolve(read);
      };
      const cancel = readWholeForStage(
        exchange,
        bound,
        reader,
        { body: this.#config.limits.body, readTimeout: limits.bodyReadTimeout, minRate: limits.bodyMinRate },
        settle,
      );
      if (cancel === undefined) return;
      // The request is over first (the client left): the read is given up, and the stage told.
      exchange.response.onClose(() => {
        if (this.#waitingSince === undefined) return;
        cancel();
        settle(new Failure('client_closed', 'the client left while its body was read'));
      });
    });
  }
}

/**
 * The admitted request with the stages' edits of its fields on the way upstream, after the access
 * stages' own: a field Candor writes itself (hop-by-hop, forwarding, tracing, the request id) is
 * out of a stage's reach, as it is out of the route's header rules'.
 */
export function withStageEdits(admitted: Admitted, stages: StageRun | undefined): Admitted {
  const edits = stages?.upstreamEdits;
  if (edits === undefined || edits.size === 0) return admitted;
  const kept = new Map([...edits].filter(([name]) => reservedHeaderProblem(name) === undefined));
  if (kept.size === 0) return admitted;
  const before = admitted.requestEdit;
  return {
    ...admitted,
    requestEdit: (headers) => {
      const from = before === undefined ? headers : before(headers);
      const out: string[] = [];
      for (let i = 0; i < from.length; i += 2)
        if (!kept.has(from[i].toLowerCase())) out.push(from[i], from[i + 1]);
      for (const [name, value] of kept) if (value !== undefined) out.push(name, value);
      return out;
    },
  };
}

/** A route without an upstream whose stages did not answer the request (a bug: its static stage answers every request). */
export function unanswered(route: RouteConfig): Failure {
  return new Failure(
    'proxy_internal_error',
    `route ${route.name} has no upstream and none of its stages answered`,
  );
}
