import type { FailureType } from '../../../core/failure/taxonomy.ts';
import type { LogReader } from '../log-reader.ts';
import type { LogRecord, Producer } from '../log-record.ts';

// type time elb client:port target:port request_processing_time target_processing_time
// response_processing_time elb_status_code target_status_code received_bytes sent_bytes "request"
// "user_agent" ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name" "chosen_cert_arn"
// matched_rule_priority request_creation_time "actions_executed" "redirect_url" "error_reason" …
const Q = '"((?:[^"\\\\]|\\\\.)*)"';
const ENTRY = new RegExp(
  `^(?:https?|h2|grpcs|wss?) (\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z) \\S+ (\\S+) (\\S+) (-?[\\d.]+) (-?[\\d.]+) (-?[\\d.]+) (\\d{3}|-) (\\d{3}|-) \\S+ \\S+ ${Q} ${Q} \\S+ \\S+ (\\S+) ${Q} ${Q} ${Q} \\S+ \\S+ ${Q} ${Q} ${Q}`,
);

/**
 * The error_reason codes that name a failure of the target (a Lambda function), from the
 * docs' "Error reason codes" table; the authenticate ones are about the identity provider,
 * not the target, and are left out.
 */
const ERROR_REASONS: Readonly<Record<string, FailureType>> = {
  LambdaConnectionTimeout: 'connection_timeout',
  LambdaInvalidResponse: 'http_protocol_error',
  LambdaThrottling: 'connection_limit_reached',
};

/** "arn:aws:elasticloadbalancing:…:targetgroup/api-tg/73e2d6bc24d8a067" → "api-tg". */
function targetGroup(arn: string): string | undefined {
  const m = /:targetgroup\/([^/]+)\//.exec(arn);
  return m ? m[1] : undefined;
}

/**
 * AWS Application Load Balancer access logs (the files ALB writes to S3, gunzipped or not),
 * built from the field list of
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html#access-log-entry-syntax
 * No such server runs here: its fixture is built from that list (fixtures/build-doc-fixtures.ts).
 *
 * ALB logs both statuses: elb_status_code (what the client got) and target_status_code (what
 * the target sent, "-" when "a connection was established to the target and the target sent a
 * response" did not happen). So a 5xx is the target's own when both are equal, and the load
 * balancer's own when the target sent none. What it made itself is typed only where the docs
 * leave one reading: a 503 with no target (no registered target to pick), a Lambda failure's
 * error_reason, a rule's fixed response (proxy_internal_response when a 5xx) and a request AWS
 * WAF rejected (the final action "waf", 403). A 502 or 504 with no target status and -1 processing times is ALB's own, but
 * of which kind the log cannot say (-1 covers a refused connection, a target that closed it, a
 * connect timeout and the idle timeout alike).
 */
export const albReader: LogReader = {
  format: 'alb',
  title: 'AWS Application Load Balancer access log',
  sniff: (line) => ENTRY.test(line),
  read(line): LogRecord | undefined {
    const m = ENTRY.exec(line);
    if (!m) return undefined;
    const time = Date.parse(m[1]);
    const elb = Number(m[7]);
    if (Number.isNaN(time) || !Number.isFinite(elb)) return undefined;
    const target = m[3] === '-' ? undefined : m[3];
    const targetStatus = m[8] === '-' ? undefined : Number(m[8]);
    const targetMs = Number(m[5]) >= 0 ? Number(m[5]) * 1000 : undefined;
    const reason = m[17] === '-' ? undefined : m[17];
    let failure: FailureType | undefined = reason === undefined ? undefined : ERROR_REASONS[reason];
    const actions = m[15].split(',');
    let producedBy: Producer | undefined;
    if (actions.includes('fixed-response')) {
      // A rule's own answer (a maintenance page): ALB's by configuration, no target involved.
      if (elb >= 500) [failure, producedBy] = ['proxy_internal_response', 'proxy'];
    } else if (elb === 403 && actions.at(-1) === 'waf') {
      // "If this is the final action, AWS WAF determined that the request should be rejected."
      [failure, producedBy] = ['http_request_denied', 'proxy'];
    } else if (elb >= 500) {
      producedBy = targetStatus === elb ? 'upstream' : 'proxy';
      if (failure === undefined && elb === 503 && target === undefined && reason === undefined)
        failure = 'destination_unavailable';
    }
    const trace = m[12] === '-' ? undefined : m[12];
    return {
      kind: 'request',
      time,
      status: elb,
      upstream: targetGroup(m[11]),
      target,
      failure,
      producedBy,
      // target_processing_time: from the request sent until the response headers began.
      waitMs: targetStatus === undefined ? undefined : targetMs,
      // 460: "the load balancer received a request from a client, but the client closed the
      // connection with the load balancer before the idle timeout period elapsed".
      clientAborted: elb === 460 || undefined,
      requestId: trace,
    };
  },
  blindSpot:
    "ALB's own 502s and 504s (no target status, -1 times) do not say which failure made them: -1 stands for a refused or closed connection, a connect timeout and the idle timeout alike; its timeouts' waits are not logged.",
};
