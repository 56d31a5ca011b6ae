// Every app's image, without Docker: the runtime stage's COPY steps replayed into an empty directory standing in for
// the image's root, then the trainer run from there. A file the bundle needs but the Dockerfile does not copy fails
// here, not in a pod.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { frameworkPython, missingReal, writeShapesDataset } from '@trainers/trainer-contract/testing';
import { ROOT, shippedApps, type ShippedApp } from '../examples.mjs';
import { copySteps, dockerfilePath, parseStages, properties } from './dockerfile.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { ...opts, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Every path under `dir`, for "nothing was written outside WORK_DIR". */
function tree(dir: string, skip: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (p === skip) continue;
      out.push(p);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * The model and task an app's conformance suite trains (no download), so --validate-only passes. An app whose models
 * are folders (hf) ships e2e/make_tiny_model.py, which builds one from a config into `scratch`.
 */
function profile(app: ShippedApp, python: string, scratch: string): { model: string; task: string } {
  if (app.name === 'ultralytics') return { model: 'yolov8n.yaml', task: 'detect' };
  const maker = join(app.root, 'e2e', 'make_tiny_model.py');
  if (existsSync(maker)) {
    const dir = join(scratch, 'tiny-model');
    execFileSync(python, [maker, 'classify', dir, '64'], { env: { PATH: process.env['PATH'], HOME: process.env['HOME'], HF_HUB_OFFLINE: '1' }, stdio: 'pipe' });
    return { model: dir, task: 'classify' };
  }
  const file = join(app.root, 'e2e', 'conformance.e2e.ts');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const model = /model:\s*'([^']+)'/.exec(text.slice(text.indexOf('real')))?.[1];
  const task = /task:\s*'([a-z]+)'/.exec(text)?.[1];
  return { model: model ?? 'MODEL', task: task ?? 'detect' };
}

const apps = shippedApps();

describe.each(apps.map((a) => [a.name, a] as const))('the %s image layout, replayed without Docker', (name, app) => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  let work: string;
  const python = frameworkPython(app.root);

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), `image-${name}-`));
    const stages = parseStages(dockerfilePath(name));
    const runtime = stages.at(-1)!;
    for (const step of copySteps(runtime)) {
      for (const src of step.sources) {
        const dest = join(root, step.dest.endsWith('/') ? step.dest : step.dest);
        mkdirSync(dirname(dest), { recursive: true });
        if (step.from === 'build' && src === '/usr/local/bin/node') {
          symlinkSync(process.execPath, dest); // the Node the tests run on stands in for the official image's
          continue;
        }
        const local = step.from === 'build' ? join(ROOT, src.replace(/^\/src\//, '')) : join(ROOT, src);
        if (!existsSync(local)) throw new Error(`${dockerfilePath(name)}: COPY source ${src} does not exist (is ${name} built?)`);
        cpSync(local, dest, { recursive: true });
        if (statSync(local).isFile()) chmodSync(dest, statSync(local).mode);
      }
    }
    const rebase = (v: string) => v.replace(/(^|:)\//g, `$1${root}/`);
    const imageEnv = Object.fromEntries(Object.entries(properties(runtime, 'ENV')).map(([k, v]) => [k, v.startsWith('/') ? rebase(v) : v]));
    // /opt/venv is pip's work in the image; here it is the app's managed venv behind the same path.
    const venvPython = imageEnv['TRAINER_PYTHON']!;
    mkdirSync(dirname(venvPython), { recursive: true });
    if (python) {
      writeFileSync(venvPython, `#!/bin/sh\nexec ${JSON.stringify(python)} "$@"\n`);
      chmodSync(venvPython, 0o755);
    }
    work = imageEnv['WORK_DIR']!;
    mkdirSync(work, { recursive: true });
    env = {
      PATH: `${join(root, 'usr/local/bin')}:/usr/local/bin:/usr/bin:/bin`,
      ...imageEnv,
      TERMINATION_LOG: join(work, 'termination-log'),
      ...(process.env['TRAINERS_VENV_HOME'] ? { TRAINERS_VENV_HOME: process.env['TRAINERS_VENV_HOME'] } : {}),
    };
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const entry = () => join(root, 'app', 'entrypoint.sh');

  it('--help and --version through the ENTRYPOINT, from an empty directory', async () => {
    const help = await run(entry(), ['--help'], { cwd: work, env });
    expect([help.code, help.stderr]).toEqual([0, '']);
    expect(help.stdout).toContain(`Usage: trainer-${name}`);
    const version = await run(entry(), ['--version'], { cwd: work, env });
    expect(version.stdout.trim()).toBe(app.version);
  });

  it('--describe prints the published description', async () => {
    const r = await run(entry(), ['--describe'], { cwd: work, env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(readFileSync(join(ROOT, 'schemas', `${name}.describe.json`), 'utf8')));
  });

  it("the seed's `python train.py …` form reaches the same trainer", async () => {
    const r = await run(entry(), ['python3', 'train.py', '--help'], { cwd: join(root, 'app'), env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: trainer-${name}`);
    const bad = await run(entry(), ['python3', 'train.py', '--job-id', '1'], { cwd: join(root, 'app'), env });
    expect(bad.code).toBe(3);
  });

  it('k8s-manifest runs in the image', async () => {
    const r = await run(entry(), ['k8s-manifest', '--image', `trainer-${name}:${app.version}`, '--job-id', '1', '--model-name', 'm', '--dataset-s3-uri', 's3://b/d/'], { cwd: work, env });
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain('kind: Job');
  });

  it('--validate-only with the framework behind TRAINER_PYTHON, writing nothing outside WORK_DIR', async () => {
    if (!python) {
      missingReal(`the ${name} venv`);
      return;
    }
    const data = mkdtempSync(join(tmpdir(), `image-${name}-data-`));
    try {
      await writeShapesDataset(join(data, 'shapes'), { images: 12, size: 64 });
      const { model, task } = profile(app, python, data);
      const before = tree(root, work);
      const r = await run(entry(), ['--validate-only', '--job-id', '1', '--model-name', model, '--dataset-s3-uri', join(data, 'shapes'), '--config', JSON.stringify({ task })], { cwd: work, env });
      expect([r.code, r.stderr]).toEqual([0, '']);
      expect(r.stdout).toMatch(/plan|dataset/i);
      expect(tree(root, work)).toEqual(before);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});
