// Finds (or creates) a Python that can `import ultralytics` for the demos.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const root = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const appDir = join(root, 'apps', 'ultralytics');
const venv = join(appDir, '.venv');
const requirements = join(appDir, 'requirements.txt');
export const fakeUltralytics = join(appDir, 'e2e', 'fake_ultralytics');

function imports(python, env = process.env) {
  const r = spawnSync(python, ['-c', 'import ultralytics, sys; sys.stdout.write(ultralytics.__version__)'], { env, encoding: 'utf8', timeout: 120_000 });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * Order: TRAINER_PYTHON; the app's .venv; a new .venv made from requirements.txt (with the system's site
 * packages, so a distribution's torch is reused). Returns undefined, after saying why, when none works.
 */
export function findPython(log = console.log) {
  if (process.env.TRAINER_PYTHON) {
    const version = imports(process.env.TRAINER_PYTHON);
    if (version) return { python: process.env.TRAINER_PYTHON, version };
    log(`TRAINER_PYTHON=${process.env.TRAINER_PYTHON} cannot import ultralytics.`);
    return undefined;
  }
  const venvPython = join(venv, 'bin', 'python');
  if (existsSync(venvPython)) {
    const version = imports(venvPython);
    if (version) return { python: venvPython, version };
  }
  const base = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  log(`Creating ${venv} from requirements.txt (python: ${base}) ...`);
  const mk = spawnSync(base, ['-m', 'venv', '--system-site-packages', venv], { stdio: 'inherit' });
  if (mk.status === 0) {
    const pip = spawnSync(join(venv, 'bin', 'python'), ['-m', 'pip', 'install', '--disable-pip-version-check', '--retries', '1', '--timeout', '20', '-r', requirements], { stdio: 'inherit' });
    if (pip.status === 0) {
      const version = imports(venvPython);
      if (version) return { python: venvPython, version };
    }
    log('\npip could not install requirements.txt: PyPI is probably not reachable from this machine.');
    rmSync(venv, { recursive: true, force: true });
  } else {
    log(`\n${base} -m venv failed (on Debian: apt-get install python3-venv).`);
  }
  log('Point TRAINER_PYTHON at an interpreter that can `import ultralytics`, for example:');
  log('  TRAINER_PYTHON=/path/to/venv/bin/python npm run demo');
  log('  TRAINER_PYTHON=/usr/bin/python3 PYTHONPATH=/path/to/ultralytics-source npm run demo');
  return undefined;
}

export function build() {
  const r = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--output-style=static'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error('build failed');
}

/** Real Ultralytics when possible; otherwise the test double, loudly labelled, so the contract can still be seen. */
export function pythonEnv() {
  const found = findPython();
  if (found) {
    console.log(`Using ultralytics ${found.version} from ${found.python}`);
    return { env: { TRAINER_PYTHON: found.python }, real: true };
  }
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  console.log('\n' + '!'.repeat(78));
  console.log('!! Ultralytics is not available: running with the TEST DOUBLE fake_ultralytics. !!');
  console.log('!! Nothing is really trained; every other part (conversion, callbacks,        !!');
  console.log('!! checkpoints, exit codes) is the real thing.                                !!');
  console.log('!'.repeat(78) + '\n');
  return { env: { TRAINER_PYTHON: python, PYTHONPATH: [fakeUltralytics, process.env.PYTHONPATH].filter(Boolean).join(':'), FAKE_ULTRALYTICS_BATCH_SECONDS: '0.2' }, real: false };
}
