import { readFile } from 'node:fs/promises';

export interface Deploy {
  readonly at: number;
  readonly label: string;
}

/**
 * A deploys file: one deploy a line, an ISO-8601 time optionally followed by a label
 * ("2026-11-21T13:11:05Z v42"); blank lines and `#` comments are skipped. Returns the deploys
 * by time, or the line numbers it could not read.
 */
export function parseDeploys(text: string): { deploys: Deploy[]; bad: number[] } {
  const deploys: Deploy[] = [];
  const bad: number[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const space = line.search(/\s/);
    const stamp = space === -1 ? line : line.slice(0, space);
    const at = Date.parse(stamp);
    if (!/^\d{4}-\d\d-\d\d/.test(stamp) || Number.isNaN(at)) {
      bad.push(index + 1);
      return;
    }
    const label = space === -1 ? stamp : line.slice(space).trim();
    deploys.push({ at, label });
  });
  deploys.sort((a, b) => a.at - b.at);
  return { deploys, bad };
}

export async function readDeploys(path: string): Promise<{ deploys: Deploy[]; bad: number[] }> {
  return parseDeploys(await readFile(path, 'utf8'));
}
