import type { GatewayConfig } from '../../core/config/types.ts';
import type { GatewayCounter } from '../../core/failure/attempt-counter.ts';
import type { Count } from '../../core/limits/count.ts';
import type { TrustList } from '../../core/net/trust.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { GatewayMetrics } from '../../observe/metrics/metrics.ts';
import type { Tracing } from '../../observe/tracing/spans.ts';
import type { Announcement, ReturnNews } from '../../upstream/health/report-outcome.ts';
import type { Upstream } from '../../upstream/targets/upstream.ts';
import type { AcmeChallenges } from '../accept/acme-challenge.ts';
import type { Admission } from '../admit/admission.ts';
import type { AnswerOverflow } from '../forward/answer-overflow.ts';
import type { ReaderMemory } from '../forward/reader-memory.ts';
import type { Router } from '../route/router.ts';
import type { RouteStages } from '../stages/route-stages.ts';

/**
 * One config snapshot made live: router, upstream pools, trust list. Requests hold the
 * runtime they started on, so a reload can swap in a new one while they finish.
 */
export interface Runtime {
  readonly config: GatewayConfig;
  readonly name: string;
  readonly router: Router;
  /** Each route's stages, by route name, built once when the config loaded: a route with none is not here. */
  readonly stages: ReadonlyMap<string, RouteStages>;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly trust: TrustList;
  /** Maintenance, rate limits and per-route load shedding (per-listener shedding lives with the listener). */
  readonly admission: Admission;
  readonly logger: Logger;
  /** Where slow clients' responses go past their buffer (limits.spool: the spool's disk, answer-overflow.ts): its count outlives a reload. */
  readonly spool: AnswerOverflow;
  /** Response bytes held in memory for slow readers (limits.buffer_total): its count outlives a reload. */
  readonly readerMemory: ReaderMemory;
  /** The gateway's metrics: they outlive a reload, like the listeners. */
  readonly metrics: GatewayMetrics;
  /**
   * Every attempt's outcome, whatever its route, and every request answered with the gateway's
   * own error: what the session tells of each (the server's counts of the gateway as a whole,
   * which a fleet's config canary reads); it outlives a reload.
   */
  readonly gatewayCounts: GatewayCounter;
  /** Span export (the gateway's, shared by every snapshot); undefined when tracing is off. */
  readonly tracing: Tracing | undefined;
  /** Via entries for HTTP/1.0, HTTP/1.1 and HTTP/2 clients, built once. */
  readonly via10: string;
  readonly via11: string;
  readonly via2: string;
  /**
   * A cluster worker tells the others (through the primary) of a target it ejected or a
   * circuit it opened, so each does not learn of a dead target on its own, and tells the primary
   * of an ejection it ended (counted once for the gateway); absent in-process.
   */
  readonly announce?: (news: Announcement | ReturnNews) => void;
  /** HTTP-01 answers, when the gateway orders certificates (the gateway's: it outlives snapshots). */
  readonly acme?: AcmeChallenges;
  /**
   * The last request logged on this snapshot, held until the next one: its objects keep their
   * shapes (V8 maps), and the code optimized for them, through a full collection in a lull
   * (idle-trim.ts). Nothing reads it, and it goes with its snapshot (a reload, a gateway closed).
   */
  lastLogged: object | undefined;
  /**
   * The requests that began on this snapshot and are not yet logged (each session takes its
   * place when it is made, gives it back when its line is written): what a reload replaced is
   * closed once they have ended (retired-snapshots.ts), not under them.
   */
  readonly requests: Count;
  close(): Promise<void>;
}
