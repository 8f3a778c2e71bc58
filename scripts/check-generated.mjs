// Fails when the committed generated gRPC code differs from what the proto files produce now.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const committed = join(root, 'packages/contracts/src/gen');
const out = mkdtempSync(join(tmpdir(), 'visualgo-gen-'));

function files(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) found.push(...files(p));
    else found.push(p);
  }
  return found;
}

try {
  execFileSync('npx', ['buf', 'lint'], { cwd: root, stdio: 'inherit' });
  execFileSync('npx', ['buf', 'generate', '--output', out], { cwd: root, stdio: 'inherit' });
  const fresh = join(out, 'packages/contracts/src/gen');
  const a = files(committed)
    .map((f) => relative(committed, f))
    .sort();
  const b = files(fresh)
    .map((f) => relative(fresh, f))
    .sort();
  const problems = [];
  for (const f of new Set([...a, ...b])) {
    if (!a.includes(f)) problems.push(`missing from the repository: ${f}`);
    else if (!b.includes(f)) problems.push(`no longer generated: ${f}`);
    else if (!readFileSync(join(committed, f)).equals(readFileSync(join(fresh, f))))
      problems.push(`stale: ${f}`);
  }
  if (problems.length > 0) {
    console.error(
      `Generated code is out of date; run \`npm run generate\` and commit:\n  ${problems.join('\n  ')}`,
    );
    process.exit(1);
  }
  console.log(`generated code is up to date (${a.length} files)`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
