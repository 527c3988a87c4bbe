/** Exit codes, after BSD sysexits where one fits, so scripts can tell failures apart. */
export const EXIT = {
  ok: 0,
  /**
   * The gateway stopped, but not cleanly: a worker did not end its drain by itself (the primary
   * killed it past the deadline, or it died), so requests it held were cut unlogged.
   */
  unclean: 1,
  /** The command line was wrong. */
  usage: 64,
  /**
   * A log given to `explain` is not in a format it reads, or too little of it is; a
   * `--proxy-status` value it cannot read (EX_DATAERR).
   */
  data: 65,
  /** The config file is invalid. */
  config: 78,
  /**
   * The gateway could not start (a port in use, a certificate unreadable, an `acme.storage` it
   * cannot keep files in); for `candor reload`
   * and `candor purge`, its admin API could not be reached, refused the token, or did not do it.
   */
  unavailable: 69,
  /**
   * Candor could not run as software (EX_SOFTWARE): the Node running `candor` is older than 22.18
   * (written as the number in bin/candor.js, which must run on that Node before any TypeScript
   * loads); or a command other than serve failed in itself, an exception nothing caught (a bug,
   * or one a config's plugin module threw outside its hooks), its stack printed. Never 1, which
   * `candor diagnose` gives a target's own 5xx.
   */
  software: 70,
} as const;
