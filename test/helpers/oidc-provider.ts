import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from './http-client.ts';
import { startTestGateway, type TestGateway } from './test-gateway.ts';
import { freePort } from './wait.ts';

/** The client the gateway is registered as, and its secret (in the variable the config names). */
export const CLIENT_ID = 'candor';
export const CLIENT_SECRET = 'a client secret of the test provider, long enough';
/** The session cookie's secret (32 characters or more). */
export const COOKIE_SECRET = 'the session cookie secret of the test gateway, 32+ chars';

/** oidc-provider ships no types: what the tests use of it, said here. */
const PROVIDER_MODULE: string = 'oidc-provider';
type ProviderClass = new (
  issuer: string,
  configuration: Record<string, unknown>,
) => {
  on(event: 'server_error', listener: (ctx: unknown, err: unknown) => void): void;
  callback(): http.RequestListener;
};

/** How the provider's port answers: as the provider, or misbehaving as an outage does. */
export type ProviderMode = 'ok' | 'hang' | 'garbage' | 'reset' | 'error' | 'client-refused';

/**
 * A real OpenID provider (`oidc-provider`, OpenID Certified) on a loopback port, with its dev
 * interactions (a login form taking any user name and password, then a consent form). Its port
 * is taken first, so the gateway's config can name the issuer; the provider itself is made by
 * `register`, once the gateway's port (its redirect URI) is known. `mode` makes the port
 * misbehave, `stop` closes it (refused), `resume` opens it again on the same port.
 */
export interface TestProvider {
  readonly issuer: string;
  mode: ProviderMode;
  /** Where `mode` misbehaves: the paths that begin so (the token endpoint, the keys); undefined: every path. */
  modeAt: string | undefined;
  /** Requests the port received, by path (a count). */
  readonly asked: Map<string, number>;
  /** The trace context the last request to each path came with (`traceparent`, `tracestate`). */
  readonly traced: Map<string, { traceparent?: string; tracestate?: string }>;
  /** Characters of a `pad` claim in the tokens it issues from now on (0: none): a user whose claims grew. */
  pad: number;
  /** The `error` code a `client-refused` answer names (`unauthorized_client` unless set). */
  refusedCode: string;
  /**
   * `rotateRefreshTokens`: every refresh gives a new refresh token and spends the one used, whose
   * reuse is refused (`invalid_grant`) and revokes the grant, as Okta's and Auth0's rotation do.
   */
  register(
    gatewayUrl: string,
    options?: { accessTokenTtl?: number; rotateRefreshTokens?: boolean },
  ): Promise<void>;
  stop(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

export async function startProvider(): Promise<TestProvider> {
  let handler: http.RequestListener | undefined;
  const asked = new Map<string, number>();
  const traced = new Map<string, { traceparent?: string; tracestate?: string }>();
  const state: { mode: ProviderMode; at: string | undefined; pad: number; refusedCode: string } = {
    mode: 'ok',
    at: undefined,
    pad: 0,
    refusedCode: 'unauthorized_client',
  };
  const listener: http.RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    asked.set(path, (asked.get(path) ?? 0) + 1);
    const { traceparent, tracestate } = req.headers;
    const one = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(',') : value);
    traced.set(path, { traceparent: one(traceparent), tracestate: one(tracestate) });
    const mode = state.at === undefined || path.startsWith(state.at) ? state.mode : 'ok';
    if (mode === 'hang') return;
    if (mode === 'reset') return void req.socket.destroy();
    if (mode === 'garbage')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{not json');
    if (mode === 'error') return void res.writeHead(500).end('down');
    // The gateway's client secret wrong, as Keycloak says it: a 401 in OAuth's words, no challenge.
    if (mode === 'client-refused')
      return void res.writeHead(401, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          error: state.refusedCode,
          error_description: 'Invalid client or Invalid client credentials',
        }),
      );
    if (handler === undefined) return void res.writeHead(503).end();
    handler(req, res);
  };
  let server = http.createServer(listener);
  // A port that stays the provider's while it is stopped (refused, then resumed on): not one a
  // listen(0) picked, which another test file's server may be given while the provider is down.
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${port}`;
  const stop = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return {
    issuer,
    asked,
    traced,
    get mode() {
      return state.mode;
    },
    set mode(mode: ProviderMode) {
      state.mode = mode;
    },
    get pad() {
      return state.pad;
    },
    set pad(pad: number) {
      state.pad = pad;
    },
    get refusedCode() {
      return state.refusedCode;
    },
    set refusedCode(code: string) {
      state.refusedCode = code;
    },
    get modeAt() {
      return state.at;
    },
    set modeAt(at: string | undefined) {
      state.at = at;
    },
    async register(gatewayUrl, options = {}) {
      const { default: Provider } = (await import(PROVIDER_MODULE)) as { default: ProviderClass };
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: CLIENT_ID,
            client_secret: CLIENT_SECRET,
            redirect_uris: [`${gatewayUrl}/oauth2/callback`],
            post_logout_redirect_uris: [`${gatewayUrl}/bye`],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
          },
        ],
        // Any user signs in: the dev interactions' login form takes any name and password.
        findAccount: (_ctx: unknown, id: string) => ({
          accountId: id,
          claims: () => ({
            sub: id,
            email: `${id}@example.com`,
            groups: id === 'alice' ? ['staff'] : ['guests'],
            ...(state.pad > 0 ? { pad: 'p'.repeat(state.pad) } : {}),
          }),
        }),
        claims: { openid: ['sub', 'pad'], email: ['email'], groups: ['groups'] },
        scopes: ['openid', 'email', 'groups', 'offline_access'],
        issueRefreshToken: () => true,
        ...(options.rotateRefreshTokens ? { rotateRefreshToken: true } : {}),
        // The scopes' claims in the ID token, as most providers put them (the gateway reads the ID token, not UserInfo).
        conformIdTokenClaims: false,
        features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
        cookies: { keys: ['a cookie key of the test provider'] },
        ttl: { AccessToken: options.accessTokenTtl ?? 3600, IdToken: 3600, RefreshToken: 86400 },
      });
      // Its warnings of a development setup (dev interactions, its own keys) said once, not per request.
      provider.on('server_error', (_ctx: unknown, err: unknown) => console.error('oidc-provider', err));
      handler = provider.callback();
    },
    stop,
    async resume() {
      server = http.createServer(listener);
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
    close: stop,
  };
}

/** One answer a browser-like client got, and the URL it was at. */
export interface Visit {
  readonly url: string;
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
}

/**
 * A browser as plain HTTP requests: a cookie jar by host (as browsers keep cookies: the port
 * is no part of it), redirects followed, forms posted. Enough for a sign-in's round trips
 * between the gateway and the provider, with nothing of a browser's own behaviour.
 */
export class HttpBrowser {
  readonly jar = new Map<string, Map<string, string>>();

  /** GET `url` asking for HTML, following redirects until an answer that is none (or `stopAt` matches the next URL). */
  async go(url: string, stopAt?: (next: URL) => boolean): Promise<Visit> {
    return this.#follow(url, 'GET', undefined, stopAt);
  }

  /** Posts the first form of `visit`'s page with `fields` (its hidden fields kept), following redirects. */
  async submit(
    visit: Visit,
    fields: Record<string, string>,
    stopAt?: (next: URL) => boolean,
  ): Promise<Visit> {
    const action = /<form[^>]*action="([^"]+)"/.exec(visit.text)?.[1];
    if (action === undefined) throw new Error(`no form at ${visit.url}: ${visit.text.slice(0, 300)}`);
    const body = new URLSearchParams();
    for (const [, name, value] of visit.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g))
      body.set(name, value);
    for (const [name, value] of Object.entries(fields)) body.set(name, value);
    return this.#follow(
      new URL(action.replaceAll('&amp;', '&'), visit.url).href,
      'POST',
      body.toString(),
      stopAt,
    );
  }

  /** Signs in at the provider's dev login (any user), consenting, back to where it sends the browser. */
  async signIn(start: Visit, user: string): Promise<Visit> {
    const consent = await this.submit(start, { login: user, password: 'any' });
    if (!consent.text.includes('name="prompt" value="consent"')) return consent;
    return this.submit(consent, {});
  }

  cookie(host: string, name: string): string | undefined {
    return this.jar.get(host)?.get(name);
  }

  /** The cookies of `host` whose names start with `prefix`, as `name=value` pairs. */
  cookiesStarting(host: string, prefix: string): string[] {
    return [...(this.jar.get(host) ?? [])].filter(([n]) => n.startsWith(prefix)).map(([n, v]) => `${n}=${v}`);
  }

  setCookie(host: string, name: string, value: string): void {
    this.#cookies(host).set(name, value);
  }

  #cookies(host: string): Map<string, string> {
    let cookies = this.jar.get(host);
    if (cookies === undefined) {
      cookies = new Map();
      this.jar.set(host, cookies);
    }
    return cookies;
  }

  async #follow(
    start: string,
    method: string,
    body: string | undefined,
    stopAt?: (next: URL) => boolean,
  ): Promise<Visit> {
    let url = new URL(start);
    for (let hops = 0; hops < 20; hops++) {
      const cookies = [...this.#cookies(url.hostname)].map(([n, v]) => `${n}=${v}`).join('; ');
      const res = await request(url.origin, {
        method,
        path: `${url.pathname}${url.search}`,
        headers: {
          accept: 'text/html,application/xhtml+xml',
          ...(cookies === '' ? {} : { cookie: cookies }),
          ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
        },
        ...(body === undefined ? {} : { body }),
      });
      for (const line of res.headers['set-cookie'] ?? []) {
        const [pair, ...attributes] = line.split(';');
        const eq = pair.indexOf('=');
        const name = pair.slice(0, eq).trim();
        const value = pair.slice(eq + 1).trim();
        const gone =
          value === '' ||
          attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
        if (gone) this.#cookies(url.hostname).delete(name);
        else this.#cookies(url.hostname).set(name, value);
      }
      const location = res.headers.location;
      const visit = { url: url.href, status: res.status, headers: res.headers, text: res.text };
      if (res.status < 300 || res.status > 399 || location === undefined) return visit;
      const next = new URL(location, url);
      if (stopAt?.(next)) return visit;
      url = next;
      method = 'GET';
      body = undefined;
    }
    throw new Error(`more than 20 redirects from ${start}`);
  }
}

/** What an OpenID Connect test starts before its tests: the app, the provider, the gateway signing in at it. */
export interface SignInSetup {
  readonly app: http.Server;
  readonly provider: TestProvider;
  readonly gw: TestGateway;
}

/**
 * Starts the app (`handler` on loopback) and the provider, then a gateway from the config `yaml`
 * writes with the provider's issuer and the app's URL (`env`: the secrets' variables; `listener`:
 * fields of its listener, as startTestGateway takes them), and registers the gateway's redirect
 * URI at the provider.
 */
export async function startSignIn(
  handler: http.RequestListener,
  yaml: (issuer: string, appUrl: string) => string,
  env: NodeJS.ProcessEnv,
  listener = '',
): Promise<SignInSetup> {
  const app = http.createServer(handler);
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  let provider: TestProvider | undefined;
  try {
    provider = await startProvider();
    const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    const gw = await startTestGateway(yaml(provider.issuer, appUrl), env, listener);
    await provider.register(gw.url);
    return { app, provider, gw };
  } catch (err) {
    // The caller's after() has none of them to close: what was started is closed here.
    app.close();
    await provider?.close();
    throw err;
  }
}
