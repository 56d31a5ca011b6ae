// Creates one managed venv from its requirements file, showing progress, and marks it complete only at the end.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export class SetupError extends Error {
  constructor(label, reason, detail = []) {
    super(`${label}: ${reason}`);
    this.label = label;
    this.reason = reason;
    this.detail = detail;
  }
}

const tilde = (p) => (p.startsWith(homedir() + '/') ? '~' + p.slice(homedir().length) : p);

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** One setup per venv at a time: a second one (another clone, CI) waits, then reuses what the first built. */
async function withLock(dir, say, fn) {
  const lock = `${dir}.lock`;
  mkdirSync(dirname(dir), { recursive: true });
  let waited = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      const pid = Number.parseInt(safeRead(join(lock, 'pid')), 10);
      if (pid && !alive(pid)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!waited) say(`another setup (pid ${pid || '?'}) is creating ${tilde(dir)}; waiting for it`);
      waited = true;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function safeRead(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The interpreter venvs are made from: TRAINERS_BASE_PYTHON, else python3 on PATH. */
function basePython(env = process.env) {
  const python = env.TRAINERS_BASE_PYTHON || 'python3';
  const r = spawnSync(python, ['-c', 'import sys, venv; print("%d.%d.%d" % sys.version_info[:3])'], { encoding: 'utf8', env });
  if (r.error || r.status !== 0) {
    return { python, error: r.error ? `${python} not found (${r.error.code})` : `${python} has no venv module: ${(r.stderr || '').trim().split('\n').pop()}` };
  }
  return { python, version: r.stdout.trim() };
}

function pipeLines(stream, onLine) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buf += chunk;
    const parts = buf.split(/\r?\n|\r/);
    buf = parts.pop();
    for (const p of parts) if (p.trim()) onLine(p);
  });
  stream.on('end', () => buf.trim() && onLine(buf));
}

/** Runs a command, turning its output into short progress lines; keeps the tail for a failure message. */
function run(cmd, args, { env, say, progress, started, beat }) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail = [];
    let last = Date.now();
    const keep = (line) => {
      tail.push(line);
      if (tail.length > 25) tail.shift();
    };
    pipeLines(child.stdout, (line) => {
      keep(line);
      const shown = progress?.(line);
      if (shown) {
        say(shown, started);
        last = Date.now();
      }
    });
    pipeLines(child.stderr, keep);
    // Named apart from the `beat` option: shadowing it made every quiet 15 s a TypeError that killed setup.
    const ticker = setInterval(() => {
      if (Date.now() - last >= 15_000) {
        say(beat?.() ?? 'still working…', started);
        last = Date.now();
      }
    }, 1000);
    child.on('error', (e) => keep(String(e)));
    child.on('close', (code) => {
      clearInterval(ticker);
      resolve({ code, tail });
    });
  });
}

// Past the pinned total, pip is collecting what a wheel pulls in on its own (torch's CUDA libraries).
const collectingLine = (what, n, total) => `collecting ${what} (${n <= total ? `${n}/${total}` : `${n}, beyond the ${total} pinned`})`;

/** pip's lines worth showing: what it collects (n of the pinned total), the big downloads, the install itself. */
function pipProgress(total) {
  let collected = 0;
  return (line) => {
    let m;
    if ((m = /^Collecting (\S+)/.exec(line))) return collectingLine(m[1], ++collected, total);
    // A wheel from the local mirror is "Processing /path/name-version-….whl" instead.
    if ((m = /^Processing \S*\/([^/-]+)-([^-]+)-\S+\.whl/.exec(line))) return collectingLine(`${m[1]}==${m[2]}`, ++collected, total);
    if ((m = /^\s*Downloading (\S+) \(([\d.]+) (MB|GB)\)/.exec(line)) && (m[3] === 'GB' || Number(m[2]) >= 20)) return `downloading ${m[1]} (${m[2]} ${m[3]})`;
    if ((m = /^Installing collected packages: (.*)$/.exec(line))) return `installing ${m[1].split(',').length} packages`;
    if (/^Successfully installed/.test(line)) return 'installed';
    return undefined;
  };
}

function sizeOf(dir) {
  const r = spawnSync('du', ['-sk', dir], { encoding: 'utf8' });
  const kb = Number.parseInt(r.stdout ?? '', 10);
  return Number.isFinite(kb) ? kb * 1024 : undefined;
}

export function formatBytes(n) {
  if (n === undefined) return '?';
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)} GB` : `${Math.round(n / 1e6)} MB`;
}

/**
 * Makes `e` (from envs.mjs) complete: reused when `.complete` is there, else built from scratch in place (a venv
 * cannot be moved once made). Returns { label, python, reused, seconds, bytes }; throws SetupError.
 */
export async function ensureEnvironment(e, { env = process.env, force = false, log = console.log } = {}) {
  const t0 = Date.now();
  const say = (msg, since = t0) => log(`  [${String(Math.round((Date.now() - since) / 1000)).padStart(3)}s] ${msg}`);
  if (!force && existsSync(join(e.dir, '.complete'))) return { label: e.label, python: e.python, reused: true, seconds: (Date.now() - t0) / 1000 };

  return withLock(e.dir, say, async () => {
    if (!force && existsSync(join(e.dir, '.complete'))) return { label: e.label, python: e.python, reused: true, seconds: (Date.now() - t0) / 1000 };
    const base = basePython(env);
    if (base.error) throw new SetupError(e.label, base.error, ['set TRAINERS_BASE_PYTHON to a Python 3.11 that has the venv module (Debian: apt-get install python3-venv)']);
    rmSync(e.dir, { recursive: true, force: true });
    say(`creating the venv with ${base.python} (Python ${base.version})`);
    const childEnv = { ...env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1', PYTHONDONTWRITEBYTECODE: '1' };
    const opts = { env: childEnv, say, started: t0 };
    const mk = await run(base.python, ['-m', 'venv', e.dir], opts);
    if (mk.code !== 0) throw fail(e, `${base.python} -m venv failed`, mk.tail);

    const pinned = readFileSync(e.requirements, 'utf8').split('\n').filter((l) => /^[A-Za-z0-9]/.test(l)).length;
    const pip = await run(e.python, ['-m', 'pip', 'install', '--progress-bar', 'off', '-r', e.requirements], {
      ...opts,
      progress: pipProgress(pinned),
      // pip is silent while it unpacks; the venv growing shows it is not stuck.
      beat: () => `still installing (${formatBytes(sizeOf(e.dir))} so far)`,
    });
    if (pip.code !== 0) throw fail(e, `pip install -r ${e.relative} failed (exit ${pip.code})`, pip.tail);
    const check = await run(e.python, ['-m', 'pip', 'check'], opts);
    if (check.code !== 0) throw fail(e, 'pip check found broken requirements', check.tail);
    if (e.imports.length) {
      say(`checking: import ${e.imports.join(', ')}`);
      const imp = await run(e.python, ['-c', `import ${e.imports.join(', ')}`], { ...opts, env: { ...childEnv, YOLO_OFFLINE: 'True', YOLO_CONFIG_DIR: join(e.dir, '.yolo-config') } });
      if (imp.code !== 0) throw fail(e, `import ${e.imports.join(', ')} failed after the install`, imp.tail);
    }
    const seconds = (Date.now() - t0) / 1000;
    const bytes = sizeOf(e.dir);
    // Written last: a venv without it is rebuilt, so an interrupted setup never counts as done.
    writeFileSync(
      join(e.dir, '.complete'),
      JSON.stringify({ label: e.label, requirements: e.relative, python: base.version, created: new Date().toISOString(), seconds, bytes }, null, 2) + '\n',
    );
    return { label: e.label, python: e.python, reused: false, seconds, bytes };
  });
}

function fail(e, reason, tail) {
  rmSync(e.dir, { recursive: true, force: true });
  return new SetupError(e.label, reason, tail);
}
