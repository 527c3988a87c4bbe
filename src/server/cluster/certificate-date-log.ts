import type { GatewayConfig } from '../../core/config/types.ts';
import type { Logger } from '../../observe/log/logger.ts';

/**
 * `candor check`'s warnings of certificates and revocation lists refused for their dates, as
 * `warn` lines at serve's start and after each reload: a certificate copied in place, then
 * reloaded, was never checked. Loaded only for a config with certificate files: the primary of a
 * plain gateway loads no node:crypto (test/server/cli/lean-processes.test.ts).
 */
export async function logCertificateDates(config: GatewayConfig, logger: Logger): Promise<void> {
  const files =
    config.listen.some((listener) => listener.tls !== undefined) ||
    Object.values(config.upstreams).some(({ tls }) => tls.ca ?? tls.crl ?? tls.cert);
  if (!files) return;
  const [{ certificateDateWarnings }, { formatPath }] = await Promise.all([
    import('../../core/config/certificate-dates.ts'),
    import('../../core/config/config-path.ts'),
  ]);
  for (const { path, message } of certificateDateWarnings(config))
    logger.warn({ field: formatPath(path) }, message);
}
