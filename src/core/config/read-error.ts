const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  // `candor.yaml/` or `conf.d/a.yaml/x.yaml`: a name on the way is a file.
  ENOTDIR: 'a name on its path is a file, not a folder',
  ELOOP: 'too many symbolic links on its path (links that point at each other?)',
  ENAMETOOLONG: 'its name is too long',
};

/** Why a file could not be read, in words rather than errno codes where the code is a common one. */
export function readErrorReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return (code === undefined ? undefined : REASONS[code]) ?? code ?? String(error);
}
