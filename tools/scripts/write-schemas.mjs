#!/usr/bin/env node
// Writes what a backend reads before it launches a Job: every trainer's config schema and description
// (`--describe`, CONTRACT §9), and both callback payload schemas. Each trainer prints its own, so this stays correct
// for apps added by the generator.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const outDir = join(root, 'schemas');
mkdirSync(outDir, { recursive: true });
const apps = readdirSync(join(root, 'apps')).filter((d) => existsSync(join(root, 'apps', d, 'package.json')));
let callbacksWritten = false;
for (const app of apps) {
  const pkg = JSON.parse(readFileSync(join(root, 'apps', app, 'package.json'), 'utf8'));
  const bin = Object.values(pkg.bin ?? {})[0];
  if (!bin) continue;
  const run = (...args) => execFileSync(process.execPath, [join(root, 'apps', app, bin), ...args], { encoding: 'utf8' });
  const print = (which) => run('--print-schema', which);
  writeFileSync(join(outDir, `${app}.config.schema.json`), print('config'));
  console.log(`schemas/${app}.config.schema.json`);
  writeFileSync(join(outDir, `${app}.describe.json`), run('--describe'));
  console.log(`schemas/${app}.describe.json`);
  if (!callbacksWritten) {
    for (const which of ['progress', 'completion']) {
      writeFileSync(join(outDir, `${which}.schema.json`), print(which));
      console.log(`schemas/${which}.schema.json`);
    }
    callbacksWritten = true;
  }
}
