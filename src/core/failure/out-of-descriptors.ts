// node:fs through process.getBuiltinModule, not an import: as an ES module it loads fs/promises
// and readline as well, which the primary (which classifies too) does not otherwise
// (test/server/cli/lean-processes.test.ts).
const fs = process.getBuiltinModule('node:fs');

/**
 * Whether this process is out of file descriptors now (EMFILE: its own limit; ENFILE: the
 * system's), tried by opening one. Asked only after a failure whose own code hides it: glibc's
 * getaddrinfo, with no descriptor for /etc/hosts or its socket, answers ENOTFOUND, EAI_AGAIN or
 * EBUSY, which read as the name's or the resolver's fault.
 */
export function outOfDescriptors(): 'EMFILE' | 'ENFILE' | undefined {
  let fd: number;
  try {
    fd = fs.openSync('/dev/null', 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EMFILE' || code === 'ENFILE' ? code : undefined;
  }
  fs.closeSync(fd);
  return undefined;
}

/** Whose open-file limit a want of descriptors is: `EMFILE: the process's …`, `ENFILE: the system's …`. */
export function descriptorLimit(code: 'EMFILE' | 'ENFILE' | string): string {
  return `${code}: the ${code === 'EMFILE' ? "process's" : "system's"} open-file limit`;
}

/** What to do of an error for want of a file descriptor (EMFILE, ENFILE), said after it; '' for any other. */
export function descriptorAdvice(code: string | undefined): string {
  return code === 'EMFILE' || code === 'ENFILE'
    ? ' (no file descriptor left: raise the open-file limit, ulimit -n or systemd LimitNOFILE=)'
    : '';
}
