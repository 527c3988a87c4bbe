import { printable, printableJson } from '../printable.ts';
import { cutLongQuotes, hidePasswords } from './describe-value.ts';
import type { FromEnvironment } from './env.ts';

/**
 * Text with each value the environment gave back to `${NAME}`, as the file writes it: a secret is
 * put in the environment to keep it out of files, and so out of what the gateway prints (GET
 * /config, server/admin/config-view.ts; a config problem, `problemTemplates`).
 *
 * Longest value first, in one pass: a value inside another's is not replaced within it.
 *
 * @example asTemplates([{ name: 'TOKEN', value: 's3cret' }])('Bearer s3cret') // 'Bearer ${TOKEN}'
 */
export function asTemplates(fromEnvironment: readonly FromEnvironment[]): (text: string) => string {
  const byLength = fromEnvironment
    .filter(({ value }) => value !== '')
    .sort((a, b) => b.value.length - a.value.length);
  if (byLength.length === 0) return (text) => text;
  return (text) => {
    let shown = '';
    for (let at = 0; at < text.length; ) {
      const found = byLength.find(({ value }) => text.startsWith(value, at));
      shown += found === undefined ? text[at] : `\${${found.name}}`;
      at += found === undefined ? 1 : found.value.length;
    }
    return shown;
  };
}

/**
 * A value shorter than this is left as it is in a problem's text: `on`, `1`, `api` are no
 * secret, and would turn the same letters in the message's own words ("got 1 problem", "on a
 * reload") into `${NAME}`. From 4 characters a value is specific enough to be told by itself.
 */
const SHORTEST_REPLACED = 4;

/**
 * `asTemplates` for a config problem's message: it quotes a value as written (a URL in "cannot
 * …"), as JSON (`got "Bearer s3cret\u0001"`, describe-value.ts), or with its control characters
 * escaped (printable.ts), so each of these forms of a value is found, the same `${NAME}` for each.
 * Then a URL's password is hidden and a long quote is cut (describe-value.ts): every problem's
 * message passes here.
 */
export function problemTemplates(fromEnvironment: readonly FromEnvironment[]): (message: string) => string {
  const forms = new Map<string, FromEnvironment>();
  for (const { name, value } of fromEnvironment) {
    if (value.length < SHORTEST_REPLACED) continue;
    const json = JSON.stringify(value).slice(1, -1);
    for (const form of [value, json, printableJson(json), printable(value), printable(value, true)])
      forms.set(form, { name, value: form });
  }
  const templates = asTemplates([...forms.values()]);
  return (message) => cutLongQuotes(hidePasswords(templates(message)));
}
