/**
 * `npm run setup` and the tests name the same venv for a requirements file (BRIEF seam 5): `<home>/<label>-<hash16>`,
 * hash16 = sha256 of the file with CRLF read as LF. Checked against a hash computed by hand, and against what the
 * setup command itself reports (`--list`). The lead swaps `managedVenvDir` for the driver's own lookup (H1).
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEV_REQUIREMENTS, REPO_ROOT, managedVenvDir, requirementsHash } from '@trainers/trainer-contract/testing';
import { APP_ROOT } from './support/fake.js';

const SETUP = join(REPO_ROOT, 'tools', 'setup', 'setup.mjs');
const tmp = mkdtempSync(join(tmpdir(), 'ul-setup-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function listed(env: NodeJS.ProcessEnv): Array<{ label: string; requirements: string; dir: string; complete: boolean }> {
  const out = execFileSync(process.execPath, [SETUP, '--list'], { encoding: 'utf8', env: { ...process.env, ...env } });
  return out.trim().split('\n').map((l) => JSON.parse(l));
}

describe('managed venv paths', () => {
  it('hash16 is sha256 of the bytes with CRLF normalised, computed by hand', () => {
    // printf 'torch==2.14.1\n' | sha256sum | cut -c1-16
    expect(requirementsHash(Buffer.from('torch==2.14.1\n'))).toBe('cb4c768c4b63fc20');
    expect(requirementsHash(Buffer.from('torch==2.14.1\r\n'))).toBe('cb4c768c4b63fc20');
    const app = join(tmp, 'apps', 'timm');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'requirements.txt'), 'torch==2.14.1\r\n');
    expect(managedVenvDir(join(app, 'requirements.txt'), { TRAINERS_VENV_HOME: '/venvs' })).toBe('/venvs/timm-cb4c768c4b63fc20');
  });

  it('setup --list names the same directories as the tests, for every app and the dev tools', () => {
    const env = { TRAINERS_VENV_HOME: join(tmp, 'home') };
    const all = listed(env);
    expect(all.map((e) => e.label)).toEqual(expect.arrayContaining(['ultralytics', 'dev']));
    expect(all.at(-1)!.label).toBe('dev');
    const byLabel = Object.fromEntries(all.map((e) => [e.label, e]));
    expect(byLabel['ultralytics']!.dir).toBe(managedVenvDir(join(APP_ROOT, 'requirements.txt'), env));
    expect(byLabel['dev']!.dir).toBe(managedVenvDir(DEV_REQUIREMENTS, env));
    expect(byLabel['dev']!.dir.startsWith(join(tmp, 'home', 'dev-'))).toBe(true);
    expect(all.every((e) => e.complete === false)).toBe(true);
  });

  it('an unknown --only label fails with exit 1 and names the known ones', () => {
    let err: { status?: number; stderr?: string } = {};
    try {
      execFileSync(process.execPath, [SETUP, '--only', 'nope'], { encoding: 'utf8', stdio: 'pipe', env: { ...process.env, TRAINERS_VENV_HOME: join(tmp, 'home') } });
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.status).toBe(1);
    expect(err.stderr).toMatch(/setup failed: nope: no such environment \(known: [^)]*\bultralytics\b[^)]*\bdev\b/);
    expect(err.stderr).toContain('TRAINER_PYTHON=/path/to/venv/bin/python');
  });

  it('a venv that cannot be built: exit 1, the reason, how to point TRAINER_PYTHON, nothing half-made left', () => {
    const home = join(tmp, 'broken');
    let err: { status?: number; stderr?: string; stdout?: string } = {};
    try {
      execFileSync(process.execPath, [SETUP, '--only', 'ultralytics'], { encoding: 'utf8', stdio: 'pipe', env: { ...process.env, TRAINERS_VENV_HOME: home, TRAINER_PYTHON: '', TRAINERS_BASE_PYTHON: join(tmp, 'no-such-python') } });
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.status).toBe(1);
    expect(err.stderr).toMatch(/setup failed: ultralytics: .*no-such-python not found \(ENOENT\)/);
    expect(err.stderr).toContain('point TRAINER_PYTHON at its interpreter');
    expect(listed({ TRAINERS_VENV_HOME: home }).every((e) => !e.complete)).toBe(true);
  });
});
