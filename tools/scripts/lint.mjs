// npm run lint: ESLint (typed rules, trainer-contract layering), knip, madge --circular and ruff, each to zero
// findings. Every step runs even when one fails, so one run shows all findings; the exit code is 1 if any failed.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
// The dev venv, found the way .ci/run finds it (npm run setup builds it).
const dev = JSON.parse(spawnSync(process.execPath, [join(root, 'tools/setup/setup.mjs'), '--list', '--only', 'dev'], { cwd: root, encoding: 'utf8' }).stdout || '{}');

const steps = [
  ['eslint', bin('eslint'), ['.']],
  ['knip', bin('knip'), ['--no-progress']],
  // madge through its npm script, where knip sees that the package is used.
  ['madge', 'npm', ['run', '--silent', 'lint:cycles']],
  ['ruff', dev.complete ? dev.python : 'python3', ['-m', 'ruff', 'check', '--no-cache', '.']],
];
const failed = [];
for (const [name, cmd, args] of steps) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  const s = ((Date.now() - t0) / 1000).toFixed(1);
  console.log(`lint: ${name} ${r.status === 0 ? 'ok' : 'FAILED'} (${s} s)`);
  if (r.status !== 0) failed.push(name);
}
if (failed.length) console.error(`lint: failed: ${failed.join(', ')}`);
process.exitCode = failed.length ? 1 : 0;
