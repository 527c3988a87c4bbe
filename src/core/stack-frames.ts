/**
 * The frames of a V8 stack as their files and lines, for telling whose code threw: a plugin's
 * (its stray errors, plugin-faults.ts; its module or factory refused at load, plugin-modules.ts)
 * or Candor's own. Node's own frames (`node:…`) and frames of no file (`<anonymous>`, `native`)
 * are left out.
 */
import { fileURLToPath } from 'node:url';

/** One frame: its file as a path (a file: URL's query, a cache-buster, dropped), and its line. */
export interface StackFrame {
  readonly file: string;
  readonly line: number;
}

/** Candor's own source (its package's src folder), whichever folder a config is in. */
const CANDOR_SRC = fileURLToPath(new URL('./../', import.meta.url));
/** Its command's file (bin/candor.js, from src/core/ and dist/core/ alike): the frame under every await of the CLI. */
const CANDOR_BIN = fileURLToPath(new URL('../../bin/', import.meta.url));

/** Whether `file` is Candor's own source: never a plugin's code. */
export function isCandorSource(file: string): boolean {
  return file.startsWith(CANDOR_SRC) || file.startsWith(CANDOR_BIN);
}

/**
 * The frames of `stack`, top first, but for Node's own and those of no file: `at f (file:///x.mjs:3:9)`,
 * `at file:///x.mjs:3:9`, `at async f (/x.cjs:3:9)`.
 */
export function stackFrames(stack: string): StackFrame[] {
  const frames: StackFrame[] = [];
  for (const text of stack.split('\n')) {
    const line = text.trim();
    if (!line.startsWith('at ')) continue;
    const body = line.slice(3);
    const open = body.lastIndexOf(' (');
    const where = body.endsWith(')') && open !== -1 ? body.slice(open + 2, -1) : body.replace(/^async /, '');
    const located = /^(.+?):(\d+):\d+$/.exec(where);
    if (located === null || located[1].startsWith('node:')) continue;
    const file = pathOf(located[1]);
    if (file !== undefined) frames.push({ file, line: Number(located[2]) });
  }
  return frames;
}

/** A frame's or a module's location as a path: a file: URL's (its query dropped), or a path as it is. */
export function pathOf(location: string): string | undefined {
  if (location.startsWith('/')) return location;
  if (!location.startsWith('file:')) return undefined;
  try {
    return fileURLToPath(location.replace(/[?#].*$/, ''));
  } catch {
    return undefined;
  }
}
