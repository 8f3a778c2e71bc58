// Bundles one service entry point into a single ESM file for production images.
// Usage (from a service folder): node ../../scripts/bundle.mjs src/main.ts dist/main.js
import { build } from 'esbuild';

const [entry, outfile] = process.argv.slice(2);
if (!entry || !outfile) {
  console.error('usage: bundle.mjs <entry.ts> <out.js>');
  process.exit(2);
}
await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  // Native or worker-loaded modules stay external and are installed in the image.
  external: [
    'bufferutil',
    'utf-8-validate',
    'pino',
    'pino-pretty',
    'thread-stream',
    // These load .proto files relative to their own install folder at run time.
    'grpc-health-check',
    '@grpc/reflection',
    '@grpc/proto-loader',
  ],
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
console.log(`bundled ${entry} -> ${outfile}`);
