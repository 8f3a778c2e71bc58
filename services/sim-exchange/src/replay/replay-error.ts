/**
 * A replay file that cannot be used, with where: the file (as the user named it, plus the CSV
 * inside a zip) and the 1-based line. Raised while loading, before the exchange starts.
 */
export class ReplayFileError extends Error {
  override readonly name = 'ReplayFileError';

  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}${line === null ? '' : ` line ${line}`}: ${problem}`, options);
  }
}

/** The replay as a whole cannot start: no files, a start outside the data, overlapping files. */
export class ReplayError extends Error {
  override readonly name = 'ReplayError';
}
