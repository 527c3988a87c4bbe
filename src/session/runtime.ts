import type { Admission } from '../admit/admission.ts';
import type { GatewayConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import type { TrustList } from '../net/trust.ts';
import type { Router } from '../route/router.ts';
import type { Tracing } from '../tracing/spans.ts';
import type { Upstream } from '../upstream/upstream.ts';

/**
 * One config snapshot made live: router, upstream pools, trust list. Requests hold the
 * runtime they started on, so a reload can swap in a new one while they finish.
 */
export interface Runtime {
  readonly config: GatewayConfig;
  readonly name: string;
  readonly router: Router;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly trust: TrustList;
  /** Maintenance, rate limits and per-route load shedding (per-listener shedding lives with the listener). */
  readonly admission: Admission;
  readonly logger: Logger;
  /** Span export (the gateway's, shared by every snapshot); undefined when tracing is off. */
  readonly tracing: Tracing | undefined;
  /** Via entries for HTTP/1.0 and HTTP/1.1 clients, built once. */
  readonly via10: string;
  readonly via11: string;
  close(): Promise<void>;
}
