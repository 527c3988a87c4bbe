/**
 * `${VAR}` and `${VAR:-default}` in config values, taken from the environment.
 *
 * Interpolation runs on each scalar string after the YAML is parsed, never on the text
 * before it: a value from the environment can then only ever be a value, and cannot smuggle
 * in YAML structure (a newline and a new key, a flow mapping, an anchor).
 *
 * As in the shell, `:-` uses the default when the variable is unset or empty. `$${` is a
 * literal `${`. A lone `$` is kept as it is, so "pa$$word" needs no escaping.
 */

/** A variable's value put into the config: GET /config shows `${name}` where `value` was. */
export interface FromEnvironment {
  readonly name: string;
  readonly value: string;
}

type Interpolation =
  | {
      readonly ok: true;
      readonly value: string /** Whether any `${...}` was replaced. */;
      readonly replaced: boolean;
      /** Each variable whose value the environment put in (not a default from the file). */
      readonly taken: readonly FromEnvironment[];
    }
  | { readonly ok: false; readonly message: string };

const TOKEN = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * The variables `text` cannot do without: each `${NAME}` written without a default, once.
 *
 * @example requiredVariables('${HOST:-0.0.0.0}:${PORT}') // ['PORT']
 */
export function requiredVariables(text: string): string[] {
  const names = new Set<string>();
  for (const match of text.matchAll(TOKEN)) {
    const reference = match[1] === undefined ? undefined : REFERENCE.exec(match[1]);
    if (reference && reference[2] === undefined) names.add(reference[1]);
  }
  return [...names];
}

/**
 * What an unset variable without a default is: an error (`refuse`, always but in `candor check
 * --without-secrets`), or, where the machine's own values may be missing, nothing (`empty`).
 */
export type UnsetVariable = 'refuse' | 'empty';

/**
 * Replaces every `${...}` in `text`, or says why it cannot.
 *
 * @example interpolateEnv('127.0.0.1:${PORT:-8080}', {}) // { ok: true, value: '127.0.0.1:8080', replaced: true, taken: [] }
 */
export function interpolateEnv(
  text: string,
  env: NodeJS.ProcessEnv,
  unset: UnsetVariable = 'refuse',
): Interpolation {
  if (!text.includes('${')) return { ok: true, value: text, replaced: false, taken: [] };
  let value = '';
  let replaced = false;
  const taken: FromEnvironment[] = [];
  let last = 0;
  for (const match of text.matchAll(TOKEN)) {
    value += text.slice(last, match.index);
    last = match.index + match[0].length;
    if (match[0] === '$${') {
      value += '${';
      continue;
    }
    if (match[1] === undefined) {
      return {
        ok: false,
        message: `unclosed "\${" in ${JSON.stringify(text)} (write $\${ for a literal "\${")`,
      };
    }
    const reference = REFERENCE.exec(match[1]);
    if (!reference) {
      return {
        ok: false,
        message: `expected \${NAME} or \${NAME:-default} with NAME made of letters, digits and _, got "${match[0]}"`,
      };
    }
    const [, name, fallback] = reference;
    const fromEnv = env[name];
    if (fallback !== undefined && (fromEnv === undefined || fromEnv === '')) {
      value += fallback;
    } else if (fromEnv === undefined) {
      if (unset === 'empty') {
        replaced = true;
        continue;
      }
      return {
        ok: false,
        message: `environment variable ${name} is not set (set it, or give a default with \${${name}:-value})`,
      };
    } else {
      value += fromEnv;
      taken.push({ name, value: fromEnv });
    }
    replaced = true;
  }
  return { ok: true, value: value + text.slice(last), replaced, taken };
}
