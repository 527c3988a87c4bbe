import type { HaproxyFormat } from './readers/haproxy-format.ts';

export class HaproxyConfError extends Error {}

/** HAProxy's `option httplog clf` (its configuration manual), which no `log-format` line spells out. */
const HTTPLOG_CLF =
  '%{+Q}o %{-Q}ci - - [%trg] %r %ST %B "" "" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl';

const SECTIONS = new Set([
  'global',
  'defaults',
  'frontend',
  'listen',
  'backend',
  'userlist',
  'peers',
  'resolvers',
  'mailers',
  'program',
  'http-errors',
  'ring',
  'log-forward',
  'cache',
  'crt-store',
  'traces',
]);

/**
 * The words of one config line as HAProxy splits them: spaces separate, `\` escapes the next
 * character outside quotes, "…" keeps spaces (`\"` and `\\` inside), '…' keeps everything, `#`
 * outside quotes starts a comment.
 */
function words(line: string, where: string): string[] {
  const out: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) word += line[++i];
      else if (c === '"') quote = undefined;
      else word += c;
    } else if (c === '\\' && i + 1 < line.length) {
      const e = line[++i];
      word += e === 't' ? '\t' : e === 'n' ? '\n' : e === 'r' ? '\r' : e;
      inWord = true;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '#') break;
    else if (c === ' ' || c === '\t') {
      if (inWord) out.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote !== undefined) throw new HaproxyConfError(`${where}: unterminated ${quote} string`);
  if (inWord) out.push(word);
  return out;
}

/**
 * The log-formats of a HAProxy config (the file given), each named after its section
 * ("defaults", "frontend fe_main"), and `option httplog clf`'s; the same format once. Plain
 * `option httplog` needs none: the built-in haproxy reader reads it.
 */
export function parseHaproxyConf(text: string, file: string): HaproxyFormat[] {
  const formats: HaproxyFormat[] = [];
  let section = 'global';
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const where = `${file}:${n + 1}`;
    const [keyword, ...args] = words(lines[n].replace(/\r$/, ''), where);
    if (keyword === undefined) continue;
    if (SECTIONS.has(keyword)) section = args[0] === undefined ? keyword : `${keyword} ${args[0]}`;
    else if (keyword === 'log-format') {
      if (args.length !== 1)
        throw new HaproxyConfError(
          `${where}: log-format expects one argument (quote the format, or escape its spaces), got ${args.length}`,
        );
      formats.push({ name: section, text: args[0] });
    } else if (keyword === 'option' && args[0] === 'httplog' && args[1] === 'clf')
      formats.push({ name: `${section} (option httplog clf)`, text: HTTPLOG_CLF });
  }
  return formats.filter((f, i) => formats.findIndex((g) => g.text === f.text) === i);
}
