/**
 * The secrets a config names: the admin token (a variable or a file), DNS-01's TSIG secret and the TLS private keys
 * (of listeners, and the client keys presented to upstreams). `candor check --without-secrets`
 * validates everything else where they are absent (a CI job has the config, not the secrets)
 * and lists them here, as what `serve` will need; without the flag, and in `serve` and a
 * reload, an absent secret is the config error it always was.
 */

import type { GatewayConfig } from './types.ts';

// node:fs through process.getBuiltinModule, not an import: imported as an ES module it loads
// fs/promises, its streams and readline as well, about 1 MiB of the primary's memory
// (test/server/cli/lean-processes.test.ts).
const { existsSync } = process.getBuiltinModule('node:fs');

/** Whether the loader requires each secret to be there: `serve`, a reload and `check` do; `check --without-secrets` does not. */
export type SecretPresence = 'required' | 'may-be-absent';

/** Where one secret comes from. */
export type SecretSource = { readonly env: string } | { readonly file: string };

/** One secret `serve` will read, with the field that names it. */
export interface NamedSecret {
  readonly source: SecretSource;
  /** The config field, e.g. "admin.token_env" or "listen[0].tls.key". */
  readonly field: string;
}

/** Whether the secret is missing here: an unset or empty variable (serve refuses both), a file that does not exist. */
export function secretAbsent(source: SecretSource, env: NodeJS.ProcessEnv = process.env): boolean {
  if ('env' in source) return (env[source.env] ?? '').trim() === '';
  return !existsSync(source.file);
}

/** Every secret the validated config names, in the file's order of sections. */
export function secretsOf(config: GatewayConfig): NamedSecret[] {
  const secrets: NamedSecret[] = [];
  for (const [index, listener] of config.listen.entries()) {
    if (listener.tls === undefined) continue;
    // A listener whose certificates all come from ACME has no key of its own to name.
    if (listener.tls.key !== undefined)
      secrets.push({ source: { file: listener.tls.key }, field: `listen[${index}].tls.key` });
    for (const [n, pair] of listener.tls.certificates.entries())
      secrets.push({ source: { file: pair.key }, field: `listen[${index}].tls.certificates[${n}].key` });
  }
  for (const [name, upstream] of Object.entries(config.upstreams))
    if (upstream.tls.key !== undefined)
      secrets.push({ source: { file: upstream.tls.key }, field: `upstreams.${name}.tls.key` });
  if (config.acme?.dns01 !== undefined)
    secrets.push({ source: { env: config.acme.dns01.tsig.secretEnv }, field: 'acme.dns01.tsig.secret_env' });
  for (const [index, route] of config.routes.entries()) {
    const oidc = route.access?.auth?.oidc;
    if (oidc === undefined) continue;
    if (oidc.clientSecretEnv !== undefined)
      secrets.push({
        source: { env: oidc.clientSecretEnv },
        field: `routes[${index}].auth.oidc.client_secret_env`,
      });
    secrets.push({
      source: { env: oidc.cookieSecretEnv },
      field: `routes[${index}].auth.oidc.cookie.secret_env`,
    });
  }
  if (config.admin !== undefined)
    secrets.push({
      source: config.admin.token,
      field: 'env' in config.admin.token ? 'admin.token_env' : 'admin.token_file',
    });
  return secrets;
}
