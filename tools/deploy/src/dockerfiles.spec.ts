import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, shippedApps } from '../examples.mjs';
import { copySteps, dockerfilePath, jsonArgs, keyword, parseStages, properties } from './dockerfile.js';

const apps = shippedApps();
const EXACT_TAG = /^\d+\.\d+\.\d+(-[a-z0-9.-]+)?$/;

it('every app ships a Dockerfile (npx nx g @trainers/trainer-plugin:trainer writes one)', () => {
  expect(apps.length).toBeGreaterThan(0);
  for (const app of apps) expect([app.name, existsSync(dockerfilePath(app.name))]).toEqual([app.name, true]);
});

it('.dockerignore keeps local builds, dependencies and git out of the context', () => {
  const lines = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
  for (const must of ['**/node_modules', '**/dist', '.git', 'outputs']) expect(lines).toContain(must);
});

describe.each(apps.map((a) => [a.name] as const))('docker/%s.Dockerfile', (name) => {
  const stages = parseStages(dockerfilePath(name));
  const runtime = stages.at(-1)!;
  const text = readFileSync(dockerfilePath(name), 'utf8');

  it('is multi-stage: Node builds the bundle, the runtime is another image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = stages.find((s) => s.name === 'build')!;
    expect(build.from.getImageName()).toBe('node');
    expect(build.from.getImageTag()).toMatch(/^24\./);
    const runs = keyword(build, 'RUN').map((r) => r.getArgumentsContent()).join('\n');
    expect(runs).toContain(`nx build ${name}`);
    expect(runtime.from.getImageName()).not.toBe('node');
  });

  it('pins every base image by an exact version tag or a digest', () => {
    const stageNames = new Set(stages.map((s) => s.name).filter(Boolean));
    for (const { from } of stages) {
      if (stageNames.has(from.getImageName() ?? '')) continue;
      const pinned = from.getImageDigest() !== null || EXACT_TAG.test(from.getImageTag() ?? '');
      expect([from.getImage(), pinned]).toEqual([from.getImage(), true]);
    }
  });

  it('gets Node from the official image, never from a script piped to a shell', () => {
    expect(copySteps(runtime)).toContainEqual({ from: 'build', sources: ['/usr/local/bin/node'], dest: '/usr/local/bin/node' });
    for (const run of stages.flatMap((s) => keyword(s, 'RUN'))) {
      const cmd = run.getArgumentsContent() ?? '';
      expect(cmd).not.toMatch(/(curl|wget)[^|;&]*\|\s*(sudo\s+)?(ba|z|da)?sh\b/);
      expect(cmd).not.toMatch(/nodesource|setup_\d+\.x/);
    }
  });

  it('installs the pinned requirements and ships the bundle with the bridge runtime', () => {
    expect(copySteps(runtime)).toContainEqual({ from: undefined, sources: [`apps/${name}/requirements.txt`], dest: '/app/requirements.txt' });
    expect(keyword(runtime, 'RUN').map((r) => r.getArgumentsContent()).join('\n')).toMatch(/pip install --no-cache-dir -r requirements\.txt/);
    expect(copySteps(runtime)).toContainEqual({ from: 'build', sources: [`/src/apps/${name}/dist/`], dest: '/app/dist/' });
    for (const line of readFileSync(join(ROOT, 'apps', name, 'requirements.txt'), 'utf8').split('\n')) {
      const req = line.replace(/#.*/, '').trim();
      if (req && !req.startsWith('-')) expect(req).toMatch(/==/);
    }
  });

  it('runs as a non-root user with OCI labels, unbuffered Python and every cache under WORK_DIR', () => {
    const user = keyword(runtime, 'USER').at(-1)?.getArgumentsContent() ?? 'root';
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    const labels = properties(runtime, 'LABEL');
    for (const k of ['source', 'version', 'revision', 'title']) expect(labels[`org.opencontainers.image.${k}`]).toBeTruthy();
    const env = properties(runtime, 'ENV');
    expect(env['PYTHONUNBUFFERED']).toBe('1');
    expect(env['WORK_DIR']).toBe('/work');
    for (const k of ['HOME', 'XDG_CACHE_HOME', 'XDG_CONFIG_HOME', 'MPLCONFIGDIR', 'TORCH_HOME', 'HF_HOME']) expect([k, env[k]?.startsWith('/work')]).toEqual([k, true]);
    expect(env['TRAINER_PYTHON']).toMatch(/^\/opt\/venv\//);
  });

  it('has the trainer as its ENTRYPOINT (exec form) and the seed\'s train.py beside it', () => {
    const entry = keyword(runtime, 'ENTRYPOINT').at(-1)!;
    expect(jsonArgs(entry)).toEqual(['/app/entrypoint.sh']);
    expect(copySteps(runtime)).toContainEqual({ from: undefined, sources: ['docker/entrypoint.sh'], dest: '/app/entrypoint.sh' });
    expect(copySteps(runtime)).toContainEqual({ from: undefined, sources: ['docker/train.py'], dest: '/app/train.py' });
    expect(keyword(runtime, 'WORKDIR').at(-1)!.getArgumentsContent()).toBe('/app');
  });

  it('copies only what exists once the app is built (context paths, and /src/… from the build stage)', () => {
    for (const stage of stages) {
      for (const step of copySteps(stage)) {
        for (const src of step.sources) {
          if (step.from && step.from !== 'build') continue;
          if (step.from === 'build' && !src.startsWith('/src/')) continue; // the Node image's own files
          const local = step.from === 'build' ? join(ROOT, src.slice('/src/'.length)) : join(ROOT, src);
          if (src === '.') continue;
          expect([src, existsSync(local)]).toEqual([src, true]);
        }
      }
    }
  });

  it('is the generator\'s recipe with this app\'s name (npm run docker:files rewrites it)', () => {
    const template = readFileSync(join(ROOT, 'tools/trainer-plugin/src/generators/trainer/files/docker/__name__.Dockerfile__tmpl__'), 'utf8');
    expect(text).toBe(template.replaceAll('<%= name %>', name));
  });
});
