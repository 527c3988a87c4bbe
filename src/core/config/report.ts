import type { PathSegment } from './schema.ts';

/**
 * Records one problem at `path`. `at` says which place in the file to point at: the value
 * (default), the key (unknown fields, bad names) or the enclosing mapping (a missing field
 * has no place of its own).
 */
export type Report = (path: readonly PathSegment[], message: string, at?: 'value' | 'key' | 'parent') => void;
