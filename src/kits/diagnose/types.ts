/**
 * What `candor diagnose` finds, as data: the steps of one probe with their timings, and the
 * verdict in the taxonomy's terms. The text and JSON outputs both read these records.
 */
import type { UpstreamProtocol } from '../../core/config/types.ts';
import type { FailureType, Shape, Stage } from '../../core/failure/taxonomy.ts';

export interface DnsFacts {
  readonly host: string;
  readonly ipLiteral: boolean;
  /** Every address the resolver returned, in the order the connect tries them. */
  readonly addresses: readonly string[];
  /** The resolver's error code (ENOTFOUND, EAI_AGAIN...). */
  readonly code?: string;
}

interface ConnectFacts {
  /** The address connected to (or tried first, when the connect failed). */
  readonly address: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly code?: string;
}

export interface CertificateFacts {
  readonly subject: string;
  readonly issuer: string;
  readonly validFrom: string;
  readonly validTo: string;
  readonly subjectAltName: string;
  /** The name the certificate is checked against (SNI), and whether it matches. */
  readonly checkedName: string;
  readonly hostnameMatch: boolean;
}

export interface TlsFacts {
  readonly servername: string | undefined;
  readonly protocol?: string;
  readonly alpn?: string;
  readonly certificate?: CertificateFacts;
  /** Whether the chain and the name verified against the trusted CAs. */
  readonly verified: boolean;
  readonly verifyError?: string;
  readonly code?: string;
}

export interface RequestFacts {
  readonly method: string;
  readonly target: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly bytes: number;
}

export interface AnswerFacts {
  readonly statusLine?: string;
  readonly status?: number;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  /** Interim 1xx statuses received before the final head. */
  readonly informational: readonly number[];
  /** Time from the request written to the first response byte. */
  readonly ttfbMs?: number;
  readonly headBytes?: number;
  /** What the bytes look like when they are not HTTP ("an SSH server"). */
  readonly identified?: string;
  /** The first bytes received, printable, when they were not a valid head. */
  readonly firstBytes?: string;
}

/** `http2`: DATA frames ended by END_STREAM (an h2c or h2 probe). */
export type BodyFraming = 'content-length' | 'chunked' | 'close-delimited' | 'none' | 'http2';

interface BodyFacts {
  readonly framing: BodyFraming;
  readonly bytes: number;
  /** Content-Length announced. */
  readonly expected?: number;
  readonly complete: boolean;
  /** Reading stopped at --max-body, or after the read timeout in all: not an error. */
  readonly capped: boolean;
  /** Set when capped: `size` (--max-body) or `time` (still streaming after the read timeout in all). */
  readonly cappedBy?: 'size' | 'time';
}

/** The gateway's own health probe of a target (an upstream with `health_check`). */
export interface HealthFacts {
  readonly method: string;
  readonly path: string;
  /** The Host the probe sent: `health_check.host`, else the target's host:port. */
  readonly host: string;
  /** `health_check.expect_status`, as ranges ("200-399"). */
  readonly expectStatus: string;
  /** The status answered, when a head came back. */
  readonly status: number | null;
  /** Why the check failed (a failure type, or `unexpected_status`); null when it passed. */
  readonly failure: string | null;
  readonly details: string | null;
}

interface StepBase {
  readonly ok: boolean;
  /** How long this step took, in milliseconds (null when it did not run). */
  readonly ms: number | null;
  /** One line for people. */
  readonly summary: string;
  /** Further lines: headers, certificate details, what a second look found. */
  readonly notes: readonly string[];
}

export type Step =
  | (StepBase & { readonly step: 'dns'; readonly facts: DnsFacts })
  | (StepBase & { readonly step: 'connect'; readonly facts: ConnectFacts })
  | (StepBase & { readonly step: 'tls'; readonly facts: TlsFacts })
  | (StepBase & { readonly step: 'request'; readonly facts: RequestFacts })
  | (StepBase & { readonly step: 'response'; readonly facts: AnswerFacts })
  | (StepBase & { readonly step: 'body'; readonly facts: BodyFacts })
  | (StepBase & { readonly step: 'health'; readonly facts: HealthFacts });

/** How the probe ended, which sets the exit status. */
export type Outcome =
  | 'ok' // a valid HTTP response below 500
  | 'upstream_error' // a valid HTTP response with the upstream's own 5xx
  | 'failure'; // a failure of the taxonomy: Candor answers 502/503/504 (or aborts the transfer)

export interface FailureSummary {
  readonly type: FailureType;
  readonly shape: Shape;
  readonly flag: string;
  /** The status Candor answers with (when the stage still allows one). */
  readonly status: number;
  readonly stage: Stage;
  readonly details: string;
  readonly rcode?: string;
  readonly alertMessage?: string;
}

export interface Verdict {
  readonly outcome: Outcome;
  /** The status the client of Candor would see: the upstream's own, or Candor's error status. */
  readonly status: number | null;
  /** The upstream's own status when it answered with a valid head. */
  readonly receivedStatus: number | null;
  readonly failure: FailureSummary | null;
  /** What is on the port when it is not the HTTP server expected. */
  readonly identified: string | null;
  /** "unreachable / connection_refused → Candor answers 502". */
  readonly summary: string;
  /** The fix that fits, in one or two plain sentences. */
  readonly fix: string;
}

/** Which of HTTP/1.1 and HTTP/2 the target speaks (null: it gave no answer either way). */
export interface ProtocolSupport {
  readonly http1: boolean | null;
  /** h2c with prior knowledge for an http:// target, h2 by ALPN for an https:// one. */
  readonly h2: boolean | null;
  /** "HTTP/1.1 yes, HTTP/2 (h2c, prior knowledge) no: the target speaks only HTTP/1.1". */
  readonly summary: string;
}

export interface TargetReport {
  /** The URL probed (the target's origin and the request path). */
  readonly url: string;
  /** The upstream this target belongs to, when it came from a config. */
  readonly upstream: string | null;
  /** true for the probe sent through the gateway (--compare / --via). */
  readonly viaGateway: boolean;
  /** How the request went, as an upstream's `protocol` says: http1, h2c or h2 (ALPN). */
  readonly protocol: UpstreamProtocol;
  readonly steps: readonly Step[];
  readonly verdict: Verdict;
  readonly totalMs: number;
  /**
   * Checked for every HTTP/2 probe, for an HTTP/1.1 probe whose failure a protocol mismatch
   * can explain, and for an HTTP/1.1 probe over TLS that was answered (kept only when the
   * target also offers h2 by ALPN); absent otherwise.
   */
  readonly protocols?: ProtocolSupport;
}
