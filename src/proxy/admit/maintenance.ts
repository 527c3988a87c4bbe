import type { MaintenanceConfig, RouteConfig, UpstreamConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';

/** The route's maintenance mode, else its upstream's: the more specific one speaks. */
export function maintenanceOf(
  route: RouteConfig,
  upstream: UpstreamConfig | undefined,
): MaintenanceConfig | undefined {
  return route.maintenance ?? upstream?.maintenance;
}

/**
 * The 503 for a request to something in maintenance: the configured message is its details,
 * so it reaches Proxy-Status, every error body format and the log line.
 */
export function maintenanceFailure(maintenance: MaintenanceConfig): Failure {
  return new Failure('proxy_internal_response', maintenance.message, { retryAfter: maintenance.retryAfter });
}
