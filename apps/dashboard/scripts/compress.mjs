// Writes brotli (.br) and gzip (.gz) forms of every text asset of the build, so the server sends
// compressed files without compressing per request. Usage: node scripts/compress.mjs dist/public
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = process.argv[2];
if (!root) {
  console.error('usage: compress.mjs <dir>');
  process.exit(2);
}
const compressible = /\.(html|js|css|json|svg|txt|map)$/;
let count = 0;
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const file = join(dir, name);
    if (statSync(file).isDirectory()) walk(file);
    else if (compressible.test(name)) {
      const body = readFileSync(file);
      writeFileSync(
        `${file}.br`,
        brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
      );
      writeFileSync(`${file}.gz`, gzipSync(body, { level: 9 }));
      count++;
    }
  }
};
walk(root);
console.log(`compressed ${count} files in ${root}`);
