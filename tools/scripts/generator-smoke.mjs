#!/usr/bin/env node
// The generator's own end-to-end check: copies this checkout (the files git lists, committed or not) into a temp dir,
// generates a throwaway trainer there with `nx g @trainers/trainer-plugin:trainer`, then runs that app's typecheck,
// build and tests (its tests train its python/bridge.py stand-in on the shared runtime). A template that rots fails
// here. Usage: `npm run test:generator` after `npm ci`. GENERATOR_SMOKE_KEEP=1 keeps the temp dir for a look.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const NAME = 'gensmoke';
const root = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const work = mkdtempSync(join(tmpdir(), 'generator-smoke-'));
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NX_ISOLATE_PLUGINS: 'false', NX_INTERACTIVE: 'false' };

function step(title, cmd, args) {
  console.log(`\n== ${title}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: work, env, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`\ngenerator smoke FAILED at "${title}" (exit ${r.status ?? r.signal}); the copy is in ${work}`);
    process.exit(1);
  }
}

const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
for (const file of files) {
  if (!existsSync(join(root, file))) continue; // deleted in the working tree
  mkdirSync(dirname(join(work, file)), { recursive: true });
  cpSync(join(root, file), join(work, file), { verbatimSymlinks: true });
}
// node_modules: every installed package linked from the checkout's, but the workspace links (@trainers/*, relative)
// and .bin copied, so they resolve inside the copy and the generated app can be linked in without touching the original.
mkdirSync(join(work, 'node_modules'));
for (const entry of readdirSync(join(root, 'node_modules'))) {
  if (entry === '@trainers' || entry === '.bin') cpSync(join(root, 'node_modules', entry), join(work, 'node_modules', entry), { recursive: true, verbatimSymlinks: true });
  else symlinkSync(join(root, 'node_modules', entry), join(work, 'node_modules', entry));
}
// A workspace's own node_modules (versions that differ from the root's, e.g. execa 9 beside the root's 5) as they are.
for (const group of ['apps', 'libs', 'tools']) {
  for (const project of readdirSync(join(root, group))) {
    const nested = join(group, project, 'node_modules');
    if (existsSync(join(root, nested)) && existsSync(join(work, group, project))) symlinkSync(join(root, nested), join(work, nested));
  }
}
console.log(`copied ${files.length} files to ${work}`);

step('generate', 'npx', ['nx', 'g', '@trainers/trainer-plugin:trainer', NAME, '--skipInstall', '--no-interactive']);
// What the generator's npm install would link (skipped: it would rewrite the shared node_modules).
symlinkSync(join('..', '..', 'apps', NAME), join(work, 'node_modules', '@trainers', NAME));
step('sync check', 'npx', ['nx', 'sync:check']);
step('typecheck', 'npx', ['nx', 'typecheck', NAME, '--output-style=static']);
step('build', 'npx', ['nx', 'build', NAME, '--output-style=static']);
step('test', 'npx', ['nx', 'test', NAME, '--output-style=static']);

if (process.env['GENERATOR_SMOKE_KEEP'] === '1') console.log(`\nkept ${work}`);
else rmSync(work, { recursive: true, force: true });
console.log(`\ngenerator smoke passed: apps/${NAME} generated, typechecked, built and tested`);
