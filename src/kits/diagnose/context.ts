import type { Identification } from '../../core/http1/impostors.ts';
import type { UpstreamHead } from '../../upstream/connections/exchange-contract.ts';
import type { ProbePlan } from './plan.ts';
import type { BodyResult } from './read-body.ts';
import type { ProtocolSupport, TlsFacts } from './types.ts';

/** What a probe learned on its way, for the verdict and the fix to quote. */
export interface ProbeContext {
  readonly plan: ProbePlan;
  /** The address connected to, or tried first. */
  address?: string;
  tls?: TlsFacts;
  requestId?: string;
  /** What is on the port when it is not the HTTP server expected. */
  identification?: Identification;
  /** The final head, as the gateway's parser read it (refused only for its framing, with a failure). */
  head?: UpstreamHead;
  body?: BodyResult;
  badLine?: string;
  largestField?: { readonly name: string; readonly bytes: number; readonly cut?: true };
  /** An HTTP/2 probe: whether the target's SETTINGS frame arrived (its answer to the preface). */
  h2Settings?: boolean;
  /** Which of HTTP/1.1 and HTTP/2 the target speaks, when that was checked. */
  protocols?: ProtocolSupport;
}
