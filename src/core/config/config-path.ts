/** Where a value sits in the config: "upstreams.api.timeouts.connect", "routes[2].match.path". */

import { unicodeEscape } from '../did-you-mean.ts';
import { printableJson } from '../printable.ts';
import type { PathSegment } from './schema.ts';

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;
/** The format characters and the spaces but U+0020 (did-you-mean.ts's). */
const UNSEEN = /(?! )[\p{Cf}\p{Z}]/gu;

export function formatPath(path: readonly PathSegment[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    // A key holding what shows as nothing or as a space (a zero-width space) shows it escaped.
    else if (!PLAIN_KEY.test(segment))
      text += `[${printableJson(JSON.stringify(segment)).replace(UNSEEN, unicodeEscape)}]`;
    else text += text === '' ? segment : `.${segment}`;
  }
  return text;
}

/** The segments of a path formatPath wrote (a segment it cannot read ends the list: the closest enclosing field). */
export function parsePath(text: string): PathSegment[] {
  const segments: PathSegment[] = [];
  const segment = /\.?([A-Za-z0-9_-]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;
  while (segment.lastIndex < text.length) {
    const found = segment.exec(text);
    if (found === null) break;
    if (found[1] !== undefined) segments.push(found[1]);
    else if (found[2] !== undefined) segments.push(Number(found[2]));
    else {
      try {
        segments.push(JSON.parse(found[3]) as string);
      } catch {
        break;
      }
    }
  }
  return segments;
}
