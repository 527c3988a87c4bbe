import type { AdminConfig } from '../../core/config/types.ts';
import { hostPort } from '../../core/net/host-port.ts';
import { isLoopbackHost } from '../../core/net/loopback-host.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { RenderMetrics } from '../../observe/metrics/exposition.ts';
import type { AdminRoute, AdminServer } from '../admin/admin-server.ts';
import type { Canaries } from '../canary/canaries.ts';
import type { ClusterControl } from '../cluster/cluster-control.ts';

/**
 * The primary's admin API listener, kept to match the config in force: started, moved or
 * stopped as the config asks, its token read again each time.
 */
export class PrimaryAdmin {
  #admin: { server: AdminServer; config: AdminConfig } | undefined;
  // The admin API's routes, made with its first listener: a primary that serves none never
  // loads its endpoints nor reads the status page's files.
  #routes: AdminRoute[] | undefined;
  readonly #control: ClusterControl;
  readonly #canaries: Canaries;
  readonly #renderMetrics: RenderMetrics;
  readonly #logger: Logger;

  constructor(control: ClusterControl, canaries: Canaries, renderMetrics: RenderMetrics, logger: Logger) {
    this.#control = control;
    this.#canaries = canaries;
    this.#renderMetrics = renderMetrics;
    this.#logger = logger;
  }

  /** The listener in force (its bound port and config), if any. */
  get current(): { readonly server: AdminServer; readonly config: AdminConfig } | undefined {
    return this.#admin;
  }

  /** Starts, moves or stops the admin listener to match the config in force; the token is read again. */
  async sync(wanted: AdminConfig | undefined): Promise<void> {
    const admin = this.#admin;
    if (admin && (wanted === undefined || wanted.address !== admin.config.address)) {
      await admin.server.close();
      this.#logger.info({ admin: admin.config.address }, 'admin API closed');
      this.#admin = undefined;
    }
    if (wanted === undefined) return;
    // (Imported here: a primary without an admin API does without the token's reading.)
    const { readAdminTokenSource } = await import('../../core/config/admin-checks.ts');
    const token = readAdminTokenSource(wanted.token, process.env);
    if ('problem' in token) {
      // The config check read it a moment ago; a file removed since leaves the API shut.
      this.#logger.error({ problem: token.problem }, 'admin API has no token: it stays closed');
      if (this.#admin) await this.#admin.server.close();
      this.#admin = undefined;
      return;
    }
    if (this.#admin) {
      this.#admin.server.setToken(token.token);
      this.#admin.server.setAllowedHosts(wanted.allowedHosts);
      this.#admin.config = wanted;
      return;
    }
    await this.#open(wanted, token.token);
  }

  async close(): Promise<void> {
    await this.#admin?.server.close();
  }

  async #open(wanted: AdminConfig, token: string): Promise<void> {
    // Loaded here, not with the primary: node:http alone is about 17 MB of a process's
    // memory, and most primaries serve no admin API.
    const [{ startAdminServer }, { adminEndpoints, metricsRoute }, { statusPageRoutes }] = await Promise.all([
      import('../admin/admin-server.ts'),
      import('../admin/endpoints.ts'),
      import('../admin/status-page.ts'),
    ]);
    this.#routes ??= [
      ...adminEndpoints(this.#control, this.#canaries),
      metricsRoute(this.#renderMetrics),
      ...statusPageRoutes(),
    ];
    const server = await startAdminServer({
      host: wanted.host,
      port: wanted.port,
      token,
      allowedHosts: wanted.allowedHosts,
      routes: this.#routes,
      logger: this.#logger,
    });
    this.#admin = { server, config: wanted };
    if (isLoopbackHost(wanted.host))
      this.#logger.info({ admin: hostPort(wanted.host, server.port()) }, 'admin API listening');
    else
      this.#logger.warn(
        { admin: hostPort(wanted.host, server.port()) },
        'admin API listening beyond loopback: anyone who reaches this address and holds the token controls the gateway',
      );
  }
}
