import { basename } from 'node:path';
import { COMBINED, type LogFormat } from './readers/nginx-log-format.ts';

/** What explain needs of an nginx config: its `log_format`s and which file each `access_log` writes. */
interface NginxLogConfig {
  readonly formats: readonly LogFormat[];
  readonly accessLogs: ReadonlyArray<{ readonly path: string; readonly format: string }>;
}

export class NginxConfError extends Error {}

/** nginx's tokens: words, quoted strings (quotes removed, `\x` kept as x), `;`, `{`, `}`; comments dropped. */
function tokens(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) i++;
    else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === ';' || c === '{' || c === '}') {
      out.push(c);
      i++;
    } else if (c === '"' || c === "'") {
      let value = '';
      i++;
      while (i < text.length && text[i] !== c) {
        // nginx drops the backslash of \" \' \\ only; \t \n \r become what they say.
        if (text[i] === '\\' && i + 1 < text.length) {
          const e = text[i + 1];
          value +=
            e === 't' ? '\t' : e === 'n' ? '\n' : e === 'r' ? '\r' : e === c || e === '\\' ? e : `\\${e}`;
          i += 2;
        } else value += text[i++];
      }
      if (i >= text.length) throw new NginxConfError(`unterminated ${c} string`);
      i++;
      // A quoted part is its own token even when a word or quote follows without a space.
      out.push(`\u0000${value}`);
    } else {
      let word = '';
      while (i < text.length && !/[\s;{}"'#]/.test(text[i])) word += text[i++];
      out.push(word);
    }
  }
  return out;
}

const plain = (token: string) => (token.startsWith('\u0000') ? token.slice(1) : token);

/**
 * The `log_format` and `access_log` directives of an nginx config (the file given; `include`d
 * files are not followed: pass the one holding the formats). Multi-part formats are joined,
 * `escape=` is kept; an `access_log` without a format name uses `combined`.
 */
export function parseNginxConf(text: string): NginxLogConfig {
  const all = tokens(text);
  const formats: LogFormat[] = [];
  const accessLogs: Array<{ path: string; format: string }> = [];
  for (let i = 0; i < all.length; i++) {
    const directive = all[i];
    if (directive !== 'log_format' && directive !== 'access_log') continue;
    // Only a directive where one may start (after ; { } or at the top).
    if (i > 0 && all[i - 1] !== ';' && all[i - 1] !== '{' && all[i - 1] !== '}') continue;
    const args: string[] = [];
    let j = i + 1;
    while (j < all.length && all[j] !== ';') args.push(all[j++]);
    if (j >= all.length) throw new NginxConfError(`${directive} without a closing ";"`);
    i = j;
    if (directive === 'log_format') {
      const [name, ...rest] = args.map(plain);
      if (name === undefined || rest.length === 0)
        throw new NginxConfError('log_format needs a name and a format');
      let escaping: LogFormat['escape'] = 'default';
      if (rest[0].startsWith('escape=')) {
        const value = rest.shift()?.slice(7);
        if (value !== 'default' && value !== 'json' && value !== 'none')
          throw new NginxConfError(
            `log_format ${name}: escape must be default, json or none, got "${value}"`,
          );
        escaping = value;
      }
      formats.push({ name, escape: escaping, text: rest.join('') });
    } else {
      const [path, name] = args.map(plain);
      if (path === undefined || path === 'off' || path.startsWith('syslog:')) continue;
      accessLogs.push({ path, format: name === undefined || name.includes('=') ? 'combined' : name });
    }
  }
  return { formats, accessLogs };
}

/**
 * The config's own formats to try on `logPath`, best first: the one its `access_log` names (by
 * path, or by file name, ignoring a rotation suffix), then the others. `combined` is not among
 * them: the built-in nginx-access reader reads it.
 */
export function formatsFor(config: NginxLogConfig, logPath: string): LogFormat[] {
  const own = config.formats.filter((f) => f.name !== COMBINED.name);
  const stem = (path: string) => basename(path).replace(/(?:\.\d+)?(?:\.gz)?$/, '');
  const named = config.accessLogs.find((a) => a.path === logPath || stem(a.path) === stem(logPath));
  const first = named && own.find((f) => f.name === named.format);
  return first ? [first, ...own.filter((f) => f !== first)] : own;
}
