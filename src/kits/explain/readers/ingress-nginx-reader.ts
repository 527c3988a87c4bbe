import { nginxFormatReader } from './nginx-log-format.ts';

/**
 * Kubernetes ingress-nginx's default access log format, `upstreaminfo`, as its documentation
 * gives it (https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/log-format/):
 * combined, then the request length and time, `[$proxy_upstream_name]` (the upstream, as
 * upstream-<namespace>-<service>-<port>), `[$proxy_alternative_upstream_name]` (a canary's),
 * the per-attempt `$upstream_addr`, `$upstream_response_length`, `$upstream_response_time`,
 * `$upstream_status`, and `$req_id` (the request id). The fixture was recorded from real nginx
 * with this format (test/kits/explain/fixtures/record-nginx-formats.ts).
 */
export const UPSTREAMINFO_PARTS = [
  '$remote_addr - $remote_user [$time_local] "$request" ',
  '$status $body_bytes_sent "$http_referer" "$http_user_agent" ',
  '$request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr ',
  '$upstream_response_length $upstream_response_time $upstream_status $req_id',
] as const;

export const UPSTREAMINFO = UPSTREAMINFO_PARTS.join('');

export const ingressNginxReader = nginxFormatReader(
  { name: 'upstreaminfo', escape: 'default', text: UPSTREAMINFO },
  'ingress-nginx',
  'ingress-nginx access log (upstreaminfo)',
);
