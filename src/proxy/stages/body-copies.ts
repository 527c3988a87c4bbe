import type { BodyCopy } from './stage.ts';

/**
 * One copy of an answer's body for the stages that each asked for one (onRelayed): the one copy
 * itself when only one did, as on a route with the response cache alone.
 */
export function bodyCopies(copies: readonly BodyCopy[]): BodyCopy {
  if (copies.length === 1) return copies[0];
  return {
    add: (chunk) => {
      for (const copy of copies) copy.add(chunk);
    },
    end: () => {
      for (const copy of copies) copy.end();
    },
  };
}
