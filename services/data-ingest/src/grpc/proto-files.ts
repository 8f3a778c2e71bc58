import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MARKER = join('visualgo', 'v1', 'market_data.proto');

/** Finds the repository's `proto/` folder by walking up from this module (source or bundle). */
export function findProtoDir(start = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, MARKER))) return candidate;
    if (dirname(dir) === dir) throw new Error(`proto/ folder with ${MARKER} not found above ${start}`);
  }
}
