import { trimOws } from '../ows.ts';
import { nameIs } from './syntax.ts';

/**
 * The count a request's Max-Forwards allows (RFC 9110 §7.6.2), as a decimal without leading
 * zeros, or undefined when it has none that is a count. The field is a singleton, but a proxy
 * that adds its line instead of replacing the one it got sends two, and one that merges lines
 * sends a list: the least count of every line and member holds (a hop that spent it has the last
 * word, wherever it wrote it), and a member that is no 1*DIGIT counts for nothing. Read by the
 * accept phase (a spent OPTIONS is answered) and the forward one (one line goes on, this less one),
 * so that the count the gateway judged is the one the next hop reads.
 */
export function leastMaxForwards(headers: readonly string[]): string | undefined {
  let least: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (!nameIs(headers[i], 'max-forwards')) continue;
    for (const part of headers[i + 1].split(',')) {
      const member = trimOws(part);
      if (!/^[0-9]+$/.test(member)) continue;
      const digits = member.replace(/^0+(?=.)/, '');
      // Compared as decimals of any length: a shorter one is less, then the first digit that differs.
      if (
        least === undefined ||
        digits.length < least.length ||
        (digits.length === least.length && digits < least)
      )
        least = digits;
    }
  }
  return least;
}
