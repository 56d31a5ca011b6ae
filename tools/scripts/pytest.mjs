#!/usr/bin/env node
// Runs pytest on the given paths with the dev Python (TRAINERS_DEV_PYTHON, else the `dev` managed venv built from
// tools/python/requirements.txt, else python3). Without pytest it skips with the reason, except under CI=true,
// where a test that cannot run fails. Ends with a jest-style "Tests:" line, so .ci/run counts these tests too.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = new URL('../..', import.meta.url).pathname;
const envModule = join(root, 'libs', 'trainer-contract', 'dist', 'bridge', 'python-env.js');
if (!existsSync(envModule)) {
  console.error(`${envModule} is missing: run \`npx nx build trainer-contract\` first (nx test does)`);
  process.exit(1);
}
const { devPython } = await import(pathToFileURL(envModule).href);
const python = devPython(process.env, root);
const paths = process.argv.slice(2);

const probe = spawnSync(python, ['-c', 'import pytest; print(pytest.__version__)'], { encoding: 'utf8' });
if (probe.status !== 0) {
  const why = `pytest cannot be imported by ${python}; build the dev venv from tools/python/requirements.txt or set TRAINERS_DEV_PYTHON`;
  if (process.env['CI'] === 'true') {
    console.error(`FAIL ${paths.join(' ')}: ${why}`);
    process.exit(1);
  }
  console.log(`skipped ${paths.join(' ')}: ${why}`);
  process.exit(0);
}

const run = spawnSync(python, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', ...paths], {
  cwd: root,
  env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  stdio: ['ignore', 'pipe', 'inherit'],
  encoding: 'utf8',
});
process.stdout.write(run.stdout ?? '');
const summary = (run.stdout ?? '').trim().split('\n').pop() ?? '';
const counts = [...summary.matchAll(/(\d+) (passed|failed|skipped|errors?)/g)].map((m) => [Number(m[1]), m[2].startsWith('error') ? 'failed' : m[2]]);
const total = counts.reduce((n, [c]) => n + c, 0);
console.log(`Tests:       ${counts.map(([c, k]) => `${c} ${k}`).join(', ')}${counts.length ? ', ' : ''}${total} total (pytest ${probe.stdout.trim()}, ${python})`);
process.exit(run.status ?? 1);
