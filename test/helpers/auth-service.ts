/**
 * What the forward-auth tests share: an auth service of their own on loopback that keeps what
 * it was asked, and a gateway whose route `/app` to an echo upstream is guarded by it.
 */
import type http from 'node:http';
import type { Fault } from '../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { listenOnLoopback } from './loopback-server.ts';
import { startTestGateway, type TestGateway } from './test-gateway.ts';

export interface AuthService {
  /** The headers of each request it was asked, in order. */
  readonly asked: http.IncomingHttpHeaders[];
  /** http://127.0.0.1:PORT/check */
  readonly url: string;
  /** 127.0.0.1:PORT: the hop's name is `auth:` and this. */
  readonly host: string;
  readonly port: number;
  /** Closes it and every connection still open on it. */
  close(): Promise<void>;
}

/**
 * An auth service that answers each request as `answer` does (a handler that never answers
 * hangs), on `port` (a test that closes it to have it refuse names a freePort()) or the system's pick.
 */
export async function startAuthService(answer: http.RequestListener, port = 0): Promise<AuthService> {
  const asked: http.IncomingHttpHeaders[] = [];
  const server = await listenOnLoopback(
    (req, res) => {
      asked.push(req.headers);
      answer(req, res);
    },
    '127.0.0.1',
    port,
  );
  return {
    asked,
    url: `${server.url}/check`,
    host: `127.0.0.1:${server.port}`,
    port: server.port,
    close: server.close,
  };
}

/**
 * A gateway named edge-1 with one route, `/app` to the upstream `app` (at `appUrl`), whose
 * `auth.forward` is `forward` (a YAML flow mapping, or a block indented for its place), then
 * `upstreams` (more upstreams, indented under `upstreams:`) and `app` (more of app's settings).
 */
export function forwardAuthConfig(
  appUrl: string,
  forward: string,
  more: { readonly upstreams?: string; readonly app?: string } = {},
): string {
  return `name: edge-1
routes:
  - name: app
    match: { path: /app }
    upstream: app
    auth:
      forward: ${forward}
upstreams:
  app:
    targets:
      - url: ${appUrl}
${more.app ?? ''}${more.upstreams ?? ''}`;
}

/** The echo app and the gateway in front of it: `yaml` is given the app's URL. */
export interface AuthStage {
  readonly echo: Fault;
  readonly gw: TestGateway;
  /** Closes the gateway, the app, then each of `also` (the auth services). */
  close(...also: { close(): Promise<unknown> }[]): Promise<void>;
}

export async function startAuthStage(yaml: (appUrl: string) => string): Promise<AuthStage> {
  const echo = await startEcho();
  const gw = await startTestGateway(yaml(echo.url));
  return {
    echo,
    gw,
    async close(...also) {
      await gw.close();
      await echo.close();
      for (const service of also) await service.close();
    },
  };
}
