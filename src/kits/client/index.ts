/**
 * `candor/client`: a fetch for apps that call APIs through gateways, retrying only what is
 * safe to retry (see README "candor/client"), and the propagation of the request id and trace
 * context from the request an app serves to the calls it makes.
 */
export type { ProxyStatusMember } from '../../core/failure/proxy-status.ts';
export type { FailureType } from '../../core/failure/taxonomy.ts';
export {
  NO_RETRY_REASONS,
  type NoRetryReason,
  RETRY_REASONS,
  type RetryReason,
} from '../../core/retry/reasons.ts';
export type { AttemptReport } from './attempt-report.ts';
export { type ClientRequestInit, createFetch, type ResilientFetch } from './create-fetch.ts';
export { CLIENT_DEFAULTS, type ClientOptions } from './options.ts';
export { currentPropagation, type Propagation, runWithPropagation } from './propagation.ts';
export type { ReplayableBody, RequestBody } from './replayable-body.ts';
export { UPSTREAM_ERROR_CODES, UpstreamError, type UpstreamErrorCode } from './upstream-error.ts';
export type { RetryBudgetConfig } from './window-retry-budget.ts';
