#!/usr/bin/env node
// Benchmark: `npm run setup` (issue 11, "Benchmarks"). Reused: every venv already complete (the normal second run,
// and CI on the same machine). Fresh: each venv built from scratch in a temporary TRAINERS_VENV_HOME, removed after.
// pip's download cache stays warm unless BENCH_SETUP_NO_CACHE=1 (then every wheel is downloaded again, as on a new
// machine). BENCH_SETUP_FRESH=0 skips the fresh builds (about 3 minutes and 7 GB of disk here).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { listEnvironments } from '../setup/envs.mjs';

const SETUP = new URL('../setup/setup.mjs', import.meta.url).pathname;
const fresh = process.env.BENCH_SETUP_FRESH !== '0';
const noCache = process.env.BENCH_SETUP_NO_CACHE === '1';

function timed(args, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [SETUP, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`setup ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return { s, out: r.stdout };
}

console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (on ${cpus().length} CPUs)`);
const labels = listEnvironments().map((e) => e.label);
const out = { bench: 'setup' };
timed([], {}); // make sure every venv exists before timing reuse
const reused = [1, 2, 3].map(() => timed([], {}).s).sort((a, b) => a - b)[1];
console.log(`setup, all ${labels.length} venvs complete (reused): ${reused.toFixed(3)} s (median of 3)`);
out.reused_s = Math.round(reused * 1000) / 1000;
if (fresh) {
  const home = mkdtempSync(join(tmpdir(), 'bench-venvs-'));
  try {
    out.fresh_s = {};
    for (const label of labels) {
      const r = timed(['--only', label], { TRAINERS_VENV_HOME: home, ...(noCache ? { PIP_NO_CACHE_DIR: '1' } : {}) });
      const size = /ready in \d+ s \(([^)]+)\)/.exec(r.out)?.[1] ?? '?';
      console.log(`setup --only ${label}, fresh (${noCache ? 'no pip cache' : 'pip cache warm'}): ${r.s.toFixed(1)} s, ${size}`);
      out.fresh_s[label] = Math.round(r.s * 10) / 10;
    }
    out.fresh_total_s = Math.round(Object.values(out.fresh_s).reduce((a, b) => a + b, 0) * 10) / 10;
    out.pip_cache = noCache ? 'off' : 'warm';
    console.log(`fresh total: ${out.fresh_total_s} s; reused is ${(out.fresh_total_s / reused).toFixed(0)}× faster`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
console.log(JSON.stringify(out));
