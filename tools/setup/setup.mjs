#!/usr/bin/env node
// `npm run setup`: creates (or reuses) every managed Python environment: one venv per apps/*/requirements.txt and
// the `dev` venv of tools/python/requirements.txt (MLflow server, pytest, ruff for the tests), outside the clone.
//   npm run setup -- --only ultralytics     just that one (repeatable, or comma-separated)
//   npm run setup -- --list                 where each one lives and whether it is complete (JSON lines)
//   npm run setup -- --force                rebuild even when complete
import { homedir } from 'node:os';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { listEnvironments, venvHome } from './envs.mjs';
import { ensureEnvironment, formatBytes, SetupError } from './install.mjs';

const tilde = (p) => (p.startsWith(homedir() + '/') ? '~' + p.slice(homedir().length) : p);

/**
 * Returns { [label]: python } for the chosen environments. An override variable (TRAINER_PYTHON for the apps,
 * TRAINERS_DEV_PYTHON for dev) wins and skips the install. Throws SetupError.
 */
export async function setup({ only = [], force = false, env = process.env, log = console.log } = {}) {
  const all = listEnvironments(env);
  const unknown = only.filter((l) => !all.some((e) => e.label === l));
  if (unknown.length) throw new SetupError(unknown[0], `no such environment (known: ${all.map((e) => e.label).join(', ')})`);
  const chosen = only.length ? all.filter((e) => only.includes(e.label)) : all;
  const pythons = {};
  const t0 = Date.now();
  for (const e of chosen) {
    if (env[e.override]) {
      log(`setup: ${e.label}: ${e.override}=${env[e.override]} is set; using it instead of a managed venv`);
      pythons[e.label] = env[e.override];
      continue;
    }
    log(`setup: ${e.label} (${e.relative}) → ${tilde(e.dir)}`);
    const r = await ensureEnvironment(e, { env, force, log });
    log(r.reused ? `setup: ${e.label} reused (complete)` : `setup: ${e.label} ready in ${Math.round(r.seconds)} s (${formatBytes(r.bytes)})`);
    pythons[e.label] = r.python;
  }
  log(`setup: ${chosen.length} environment(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s (home ${tilde(venvHome(env))})`);
  return pythons;
}

export function explain(err, log = console.error) {
  if (!(err instanceof SetupError)) throw err;
  log(`\nsetup failed: ${err.message}`);
  if (err.detail.length) log(err.detail.map((l) => `  | ${l}`).join('\n'));
  const override = err.label === 'dev' ? 'TRAINERS_DEV_PYTHON' : 'TRAINER_PYTHON';
  log(`\nTo use an environment you already have, point ${override} at its interpreter, e.g.`);
  log(`  ${override}=/path/to/venv/bin/python npm run ${err.label === 'dev' ? 'setup' : 'demo'}`);
  log('Other venv homes: TRAINERS_VENV_HOME=/path; another base interpreter: TRAINERS_BASE_PYTHON=/path/to/python3.11');
}

async function main() {
  const { values } = parseArgs({ options: { only: { type: 'string', multiple: true }, list: { type: 'boolean' }, force: { type: 'boolean' } } });
  const only = (values.only ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  if (values.list) {
    for (const e of listEnvironments()) if (!only.length || only.includes(e.label)) console.log(JSON.stringify({ label: e.label, requirements: e.relative, dir: e.dir, python: e.python, complete: e.complete }));
    return 0;
  }
  try {
    await setup({ only, force: values.force ?? false });
    return 0;
  } catch (err) {
    explain(err);
    return 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = await main();
