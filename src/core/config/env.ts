/**
 * `${VAR}` and `${VAR:-default}` in config values, taken from the environment.
 *
 * Interpolation runs on each scalar string after the YAML is parsed, never on the text
 * before it: a value from the environment can then only ever be a value, and cannot smuggle
 * in YAML structure (a newline and a new key, a flow mapping, an anchor).
 *
 * As in the shell, `:-` uses the default when the variable is unset or empty, and a default may
 * hold references of its own (`${A:-${B:-b}}`), read only when it is used. `$${` is a literal
 * `${`. A lone `$` is kept as it is, so "pa$$word" needs no escaping.
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

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** One `${…}` as written: its variable, its default's text (undefined: none), and where it ends (past its `}`). */
type Reference =
  | { readonly name: string; readonly fallback: string | undefined; readonly end: number }
  | { readonly message: string };

/**
 * The `${…}` whose `${` is at `at`. A default may hold references of its own, as in the shell and
 * Docker Compose (`${HOST:-${FALLBACK_HOST}}`): its end is the `}` that closes the `${` it opened,
 * counting the `${` inside it (a `$${` in it is a literal, opening nothing).
 */
function readReference(text: string, at: number): Reference {
  let depth = 0;
  let close = -1;
  for (let i = at + 2; i < text.length; i++) {
    if (text.startsWith('$${', i)) i += 2;
    else if (text.startsWith('${', i)) {
      depth++;
      i++;
    } else if (text[i] === '}') {
      if (depth === 0) {
        close = i;
        break;
      }
      depth--;
    }
  }
  if (close === -1)
    return { message: `unclosed "\${" in ${JSON.stringify(text)} (write $\${ for a literal "\${")` };
  const inside = text.slice(at + 2, close);
  const name = NAME.exec(inside)?.[0];
  const rest = name === undefined ? inside : inside.slice(name.length);
  if (name === undefined || (rest !== '' && !rest.startsWith(':-')))
    return {
      message: `expected \${NAME} or \${NAME:-default} with NAME made of letters, digits and _, not starting with a digit, got "\${${inside}}"`,
    };
  return { name, fallback: rest === '' ? undefined : rest.slice(2), end: close + 1 };
}

/**
 * The variables `text` cannot do without: each `${NAME}` written without a default, once. One
 * in a default is needed only when the variable before it is unset: not counted.
 *
 * @example requiredVariables('${HOST:-0.0.0.0}:${PORT}') // ['PORT']
 */
export function requiredVariables(text: string): string[] {
  const names = new Set<string>();
  for (let at = text.indexOf('${'); at !== -1; ) {
    if (text[at - 1] === '$') {
      at = text.indexOf('${', at + 2);
      continue;
    }
    const reference = readReference(text, at);
    if ('message' in reference) break;
    if (reference.fallback === undefined) names.add(reference.name);
    at = text.indexOf('${', reference.end);
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
  const found: Found = { replaced: false, taken: [] };
  const expanded = expand(text, env, unset, found);
  if (typeof expanded !== 'string') return { ok: false, message: expanded.message };
  return { ok: true, value: expanded, replaced: found.replaced, taken: found.taken };
}

/** What an expansion met: whether any reference was replaced, and what the environment gave. */
interface Found {
  replaced: boolean;
  readonly taken: FromEnvironment[];
}

/** `text` with every reference replaced (a default's only when it is used), or why it cannot be. */
function expand(
  text: string,
  env: NodeJS.ProcessEnv,
  unset: UnsetVariable,
  found: Found,
): string | { readonly message: string } {
  let value = '';
  let last = 0;
  for (let at = text.indexOf('${'); at !== -1; at = text.indexOf('${', last)) {
    if (text[at - 1] === '$') {
      // `$${`: a literal `${`.
      value += `${text.slice(last, at - 1)}\${`;
      last = at + 2;
      continue;
    }
    value += text.slice(last, at);
    const reference = readReference(text, at);
    if ('message' in reference) return reference;
    last = reference.end;
    found.replaced = true;
    const { name, fallback } = reference;
    const fromEnv = env[name];
    if (fallback !== undefined && (fromEnv === undefined || fromEnv === '')) {
      const inner = expand(fallback, env, unset, found);
      if (typeof inner !== 'string') return inner;
      value += inner;
    } else if (fromEnv === undefined) {
      if (unset === 'empty') continue;
      return {
        message: `environment variable ${name} is not set (set it, or give a default with \${${name}:-value})`,
      };
    } else {
      value += fromEnv;
      found.taken.push({ name, value: fromEnv });
    }
  }
  return value + text.slice(last);
}
