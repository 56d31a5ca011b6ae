/**
 * The suite tested on itself: a real trainer process built from the lifecycle and the scripted driver passes it,
 * and the same trainer broken on purpose fails exactly the checks that cover what was broken, in contract terms.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { ScenarioResults } from './check-kit.js';
import { CHECKS } from './checks.js';
import type { Harness, RunResult } from './harness.js';
import { runConformance } from './runner.js';
import type { ScriptedBreak } from './scripted-trainer.js';
import type { ConformanceProfile, ConformanceReport } from './types.js';

const HERE = dirname(fileURLToPath(import.meta.url));
let root: string;
let bundle: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'conformance-self-'));
  bundle = join(root, 'trainer-scripted.mjs');
  // The trainer runs as its own process, as in production: bundled from the sources, as the apps are.
  await build({
    stdin: {
      contents: `import { runScriptedTrainer } from './scripted-trainer.ts';\nprocess.exit(await runScriptedTrainer(process.argv.slice(2)));\n`,
      resolveDir: HERE,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundle,
    conditions: ['@trainers/source'],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'silent',
  });
}, 120_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

function profile(brk?: ScriptedBreak): ConformanceProfile {
  return {
    name: 'scripted',
    command: [process.execPath, bundle],
    env: { SCRIPTED_EPOCH_MS: '30', ...(brk ? { SCRIPTED_TRAINER_BREAK: brk } : {}) },
    slowEnv: { SCRIPTED_EPOCH_MS: '800' },
    task: 'detect',
    model: 'scripted-n',
    config: {},
    resultFiles: ['results.csv'],
  };
}

const failed = (r: ConformanceReport) => r.checks.filter((c) => c.status === 'fail');
const byId = (r: ConformanceReport, id: string) => r.checks.find((c) => c.id === id)!;

describe('the conformance suite', () => {
  it('passes a trainer that honours the contract', async () => {
    // --describe is not in the lifecycle yet (BRIEF seam 4); its checks are left out here.
    const report = await runConformance(profile(), { skip: ['describe.'] });
    expect(failed(report).map((c) => ({ id: c.id, failures: c.failures }))).toEqual([]);
    expect(report.checks.length).toBeGreaterThanOrEqual(40);
    expect(report.checks.filter((c) => c.id.startsWith('bad-input.')).length).toBeGreaterThanOrEqual(10);
  }, 300_000);

  it('catches a trainer that exits 1 where 3 is due, in contract terms', async () => {
    const report = await runConformance(profile('exit-1-for-user-errors'), { only: ['bad-input.', 'outcome.exit-0'] });
    const bad = report.checks.filter((c) => c.id.startsWith('bad-input.'));
    expect(bad.length).toBeGreaterThanOrEqual(10);
    for (const c of bad) {
      expect(c.status).toBe('fail');
      expect(c.failures).toContainEqual(expect.stringMatching(/^§5 exit code: .+ exited 1, want 3$/));
    }
    expect(byId(report, 'bad-input.config-unknown-key').failures).toContain('§5 exit code: an unknown config key "epoch" exited 1, want 3');
    // What it still does right passes: the break is reported where it is, not everywhere.
    expect(byId(report, 'outcome.exit-0').status).toBe('pass');
  }, 300_000);

  it('catches a trainer that sends no progress', async () => {
    const report = await runConformance(profile('no-progress'), { only: ['callbacks.interval', 'callbacks.webhook-id', 'outcome.exit-143', 'outcome.exit-1', 'callbacks.signing'] });
    expect(byId(report, 'callbacks.interval')).toMatchObject({ status: 'fail', failures: expect.arrayContaining([expect.stringMatching(/^§4 last epoch: no progress for the last epoch \(3\)/)]) });
    expect(byId(report, 'callbacks.webhook-id').failures).toContain('§4 webhook-id: no progress arrived');
    expect(byId(report, 'outcome.exit-143').failures).toEqual([expect.stringMatching(/^§4 interruption: no progress arrived before the run ended \(exited 0\), so SIGTERM was never sent$/)]);
    expect(byId(report, 'outcome.exit-1').status).toBe('fail');
    // The completions it does send are still signed.
    expect(byId(report, 'callbacks.signing').status).toBe('pass');
  }, 300_000);

  it('finds a secret in any output it keeps, and names the secret and the place', async () => {
    const token = 'leaked-token-1234';
    const run = {
      id: 'leaky',
      stdout: `{"msg":"sending with ${token}"}`,
      stderr: '',
      termination: '',
      received: [{ kind: 'progress', body: '{}', headers: { authorization: `Bearer ${token}`, 'x-debug': token } }],
      mlflowRuns: [{ runId: 'r1', runName: 'job-1', status: 'FINISHED', params: { note: token }, tags: {} }],
    } as unknown as RunResult;
    const h = { secrets: { all: [{ name: 'CALLBACK_TOKEN', value: token }] } } as unknown as Harness;
    const failures = await CHECKS.find((c) => c.id === 'secrets')!.evaluate(new ScenarioResults(new Map([['leaky', run]])), h);
    // The Authorization header is where the token belongs; everywhere else it is a leak.
    expect(failures).toEqual([
      "§3 secrets: CALLBACK_TOKEN's value appears in stdout of leaky",
      "§3 secrets: CALLBACK_TOKEN's value appears in a progress callback header of leaky",
      "§3 secrets: CALLBACK_TOKEN's value appears in MLflow params and tags of leaky",
    ]);
  });
});
