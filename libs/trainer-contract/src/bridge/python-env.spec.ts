import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devPython, managedPython, managedVenvDir, pythonFor, requirementsHash, venvHome } from './python-env.js';

let base: string;
let appDir: string;
let requirements: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'python-env-'));
  appDir = join(base, 'apps', 'ultralytics');
  mkdirSync(appDir, { recursive: true });
  requirements = join(appDir, 'requirements.txt');
  writeFileSync(requirements, 'ultralytics==8.4.190\r\ntorch==2.14.1\r\n');
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

const env = () => ({ TRAINERS_VENV_HOME: join(base, 'venvs') });
const sha16 = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

function completeVenv(dir: string): void {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(join(dir, '.complete'), '');
}

describe('managed venvs (seam 5)', () => {
  it('live in TRAINERS_VENV_HOME, else ~/.cache/trainers/venvs', () => {
    expect(venvHome(env())).toBe(join(base, 'venvs'));
    expect(venvHome({ HOME: '/home/u' })).toBe('/home/u/.cache/trainers/venvs');
  });

  it('are named <folder>-<first 16 hex of sha256 of the file, CRLF read as LF>', () => {
    const want = sha16('ultralytics==8.4.190\ntorch==2.14.1\n');
    expect(requirementsHash('ultralytics==8.4.190\r\ntorch==2.14.1\r\n')).toBe(want);
    expect(managedVenvDir(requirements, env())).toBe(join(base, 'venvs', `ultralytics-${want}`));
  });

  it('call the dev tools venv `dev`', () => {
    const tools = join(base, 'tools', 'python');
    mkdirSync(tools, { recursive: true });
    writeFileSync(join(tools, 'requirements.txt'), 'pytest==9.2.0\n');
    expect(managedVenvDir(join(tools, 'requirements.txt'), env())).toBe(join(base, 'venvs', `dev-${sha16('pytest==9.2.0\n')}`));
    expect(devPython({ ...env(), TRAINERS_DEV_PYTHON: '/opt/py' }, base)).toBe('/opt/py');
    expect(devPython(env(), base)).toBe('python3');
    completeVenv(managedVenvDir(join(tools, 'requirements.txt'), env()));
    expect(devPython(env(), base)).toBe(join(managedVenvDir(join(tools, 'requirements.txt'), env()), 'bin', 'python'));
  });

  it('count only once setup wrote .complete; TRAINER_PYTHON wins over them; python3 is the last resort', () => {
    const dir = managedVenvDir(requirements, env());
    mkdirSync(join(dir, 'bin'), { recursive: true });
    expect(managedPython(requirements, env())).toBeUndefined();
    expect(pythonFor(env(), requirements)).toBe('python3');
    completeVenv(dir);
    expect(pythonFor(env(), requirements)).toBe(join(dir, 'bin', 'python'));
    expect(pythonFor({ ...env(), TRAINER_PYTHON: '/usr/bin/python3' }, requirements)).toBe('/usr/bin/python3');
    // A changed requirements file is another venv: the old one no longer counts.
    writeFileSync(requirements, 'ultralytics==8.4.191\n');
    expect(pythonFor(env(), requirements)).toBe('python3');
    expect(pythonFor(env(), join(base, 'missing', 'requirements.txt'))).toBe('python3');
  });
});
