/** Where a value sits in the config: "upstreams.api.timeouts.connect", "routes[2].match.path". */

import { printableJson } from '../printable.ts';
import type { PathSegment } from './schema.ts';

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

export function formatPath(path: readonly PathSegment[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (!PLAIN_KEY.test(segment)) text += `[${printableJson(JSON.stringify(segment))}]`;
    else text += text === '' ? segment : `.${segment}`;
  }
  return text;
}
