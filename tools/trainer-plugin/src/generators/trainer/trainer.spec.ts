import { describe, it, expect, beforeEach, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addProjectConfiguration, readJson, writeJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { FsTree, flushChanges } from 'nx/src/generators/tree';
import { trainerGenerator } from './trainer';

const APP_FILES = [
  'package.json',
  'tsconfig.json',
  'tsconfig.app.json',
  'tsconfig.spec.json',
  'jest.config.cjs',
  'bin/trainer-demo-fw.mjs',
  'src/main.ts',
  'src/config.ts',
  'src/convert-worker.ts',
  'src/driver.ts',
  'src/metrics.ts',
  'src/model.ts',
  'src/driver.spec.ts',
  'python/bridge.py',
  'requirements.txt',
  'e2e/demo-fw.e2e.ts',
];

const pkg = (tree: Tree) => readJson(tree, 'apps/demo-fw/package.json');

function workspace(): Tree {
  const tree = createTreeWithEmptyWorkspace();
  writeJson(tree, 'package.json', { name: '@trainers/source', private: true });
  writeJson(tree, 'tsconfig.json', { extends: './tsconfig.base.json', files: [], references: [{ path: './libs/trainer-contract' }] });
  return tree;
}

describe('trainer generator', () => {
  let tree: Tree;
  beforeEach(() => {
    tree = workspace();
  });

  it('creates apps/<name> with every seam filled in and no template leftovers', async () => {
    await trainerGenerator(tree, { name: 'demo-fw', skipFormat: true });
    expect(tree.exists('docker/demo-fw.Dockerfile')).toBe(true);
    const generated = [...APP_FILES.map((f) => `apps/demo-fw/${f}`), 'docker/demo-fw.Dockerfile'];
    for (const f of generated) expect({ f, leftovers: tree.read(f, 'utf-8')!.match(/<%|%>/g) }).toEqual({ f, leftovers: null });
    const created = tree.listChanges().map((c) => c.path);
    expect(created.filter((p) => /__tmpl__|__name__/.test(p))).toEqual([]);
    expect(created.filter((p) => p.startsWith('apps/demo-fw/')).sort()).toEqual(APP_FILES.map((f) => `apps/demo-fw/${f}`).sort());
  });

  it('writes the package, its nx esbuild target and the bin under the workspace scope', async () => {
    await trainerGenerator(tree, { name: 'demo-fw', skipFormat: true });
    const pkg = readJson(tree, 'apps/demo-fw/package.json');
    expect(pkg.name).toBe('@trainers/demo-fw');
    expect(pkg.type).toBe('module');
    expect(pkg.bin).toEqual({ 'trainer-demo-fw': './bin/trainer-demo-fw.mjs' });
    expect(pkg.dependencies).toEqual({ '@trainers/trainer-contract': '*' });
    const build = pkg.nx.targets.build;
    expect(pkg.nx.name).toBe('demo-fw');
    expect(build.executor).toBe('@nx/esbuild:esbuild');
    expect(build.options).toMatchObject({
      outputPath: 'apps/demo-fw/dist',
      main: 'apps/demo-fw/src/main.ts',
      additionalEntryPoints: ['apps/demo-fw/src/convert-worker.ts'],
      tsConfig: 'apps/demo-fw/tsconfig.app.json',
      format: ['esm'],
      thirdParty: true,
      esbuildOptions: { conditions: ['@trainers/source'] },
    });
    expect(build.options.esbuildOptions.banner.js).toContain('createRequire as __cr');
    expect(tree.read('apps/demo-fw/bin/trainer-demo-fw.mjs', 'utf-8')).toContain("await launch(import.meta.url, 'trainer-demo-fw');");
    // The converter's worker is a second bundle entry, emitted beside main.js.
    expect(tree.read('apps/demo-fw/src/convert-worker.ts', 'utf-8')).toContain("import '@trainers/trainer-contract/convert-worker';");
  });

  it('names the driver, config and Docker image after the framework', async () => {
    await trainerGenerator(tree, { name: 'demo-fw', skipFormat: true });
    const main = tree.read('apps/demo-fw/src/main.ts', 'utf-8')!;
    expect(main).toContain("import { runTrainerCli } from '@trainers/trainer-contract';");
    expect(main).toContain('runTrainerCli(process.argv.slice(2), createDemoFwDriver(), {})');
    const config = tree.read('apps/demo-fw/src/config.ts', 'utf-8')!;
    expect(config).toContain('export const demoFwConfigSchema = defineConfig(demoFwConfigShape, { ownedKeys: DEMO_FW_OWNED_KEYS });');
    const driver = tree.read('apps/demo-fw/src/driver.ts', 'utf-8')!;
    expect(driver).toContain("name: 'demo-fw',");
    expect(driver).toContain('createPythonBridgeDriver<DemoFwConfig>(');
    // The bridge is framework code on the shared runtime: none of the protocol is copied into the app.
    const bridge = tree.read('apps/demo-fw/python/bridge.py', 'utf-8')!;
    expect(bridge).toContain('from trainer_bridge import ModelUnavailableError, run');
    for (const protocol of ['os.fdopen', 'signal.signal', 'os.replace', 'traceback', 'TRAINER_EVENTS_FD']) expect(bridge).not.toContain(protocol);
    expect(pkg(tree).nx.implicitDependencies).toEqual(['trainer-bridge']);
    expect(pkg(tree).nx.targets.build.options.assets).toEqual([
      { input: 'libs/trainer-contract/python/trainer_bridge', glob: '*.py', output: 'python/trainer_bridge' },
      { input: 'apps/demo-fw/python', glob: 'bridge.py', output: 'python' },
    ]);
    expect(tree.read('apps/demo-fw/e2e/demo-fw.e2e.ts', 'utf-8')).toContain("from '@trainers/trainer-contract/testing'");
    const dockerfile = tree.read('docker/demo-fw.Dockerfile', 'utf-8')!;
    expect(dockerfile).toContain('COPY --from=build /src/apps/demo-fw/dist/ ./dist/');
    expect(dockerfile).toContain('npx nx build demo-fw ');
    expect(dockerfile).toContain('ENTRYPOINT ["/app/entrypoint.sh"]');
    // The same recipe as every app's (docker/ultralytics.Dockerfile), only the name differs; tools/deploy checks it.
    expect(dockerfile).not.toContain('ultralytics');
  });

  it('takes the npm scope from the root package.json', async () => {
    writeJson(tree, 'package.json', { name: '@acme/source', private: true });
    await trainerGenerator(tree, { name: 'timm', skipFormat: true });
    expect(readJson(tree, 'apps/timm/package.json')).toMatchObject({ name: '@acme/timm', dependencies: { '@acme/trainer-contract': '*' } });
    expect(tree.read('apps/timm/src/driver.ts', 'utf-8')).toContain("from '@acme/trainer-contract';");
  });

  it('adds the app to the root tsconfig references once', async () => {
    await trainerGenerator(tree, { name: 'demo-fw', skipFormat: true });
    expect(readJson(tree, 'tsconfig.json').references).toEqual([{ path: './libs/trainer-contract' }, { path: './apps/demo-fw' }]);
  });

  it('appends to a one-line references list in place, leaving the rest of the file as it was', async () => {
    const original = '{\n  "extends": "./tsconfig.base.json",\n  "files": [],\n  "references": [{ "path": "./libs/trainer-contract" }]\n}\n';
    tree.write('tsconfig.json', original);
    await trainerGenerator(tree, { name: 'demo-fw', skipFormat: true });
    expect(tree.read('tsconfig.json', 'utf-8')).toBe(original.replace(' }]', ' }, { "path": "./apps/demo-fw" }]'));
    tree.write('tsconfig.json', '{ "files": [], "references": [] }');
    await trainerGenerator(tree, { name: 'other', skipFormat: true });
    expect(tree.read('tsconfig.json', 'utf-8')).toBe('{ "files": [], "references": [{ "path": "./apps/other" }] }');
  });

  it('marks the bin executable', async () => {
    await trainerGenerator(tree, { name: 'demo-fw', skipFormat: true });
    const change = tree.listChanges().find((c) => c.path === 'apps/demo-fw/bin/trainer-demo-fw.mjs');
    expect(change?.options?.mode).toBe('755');
  });

  it('refuses an existing app, an existing project name and a bad name, writing nothing', async () => {
    tree.write('apps/taken/package.json', '{}');
    await expect(trainerGenerator(tree, { name: 'taken', skipFormat: true })).rejects.toThrow('apps/taken already exists');
    addProjectConfiguration(tree, 'trainer-contract', { root: 'libs/trainer-contract' });
    await expect(trainerGenerator(tree, { name: 'trainer-contract', skipFormat: true })).rejects.toThrow('a project named "trainer-contract" already exists');
    for (const bad of ['Timm', 'my_fw', '9lives', 'a--b', '../x', '']) {
      await expect(trainerGenerator(tree, { name: bad, skipFormat: true })).rejects.toThrow(/^name: /);
    }
    expect(tree.exists('docker')).toBe(false);
    expect(readJson(tree, 'tsconfig.json').references).toEqual([{ path: './libs/trainer-contract' }]);
  });
});

describe('install callback', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('returns a task that does nothing with skipInstall', async () => {
    const tree = workspace();
    const callback = await trainerGenerator(tree, { name: 'demo-fw', skipFormat: true, skipInstall: true });
    expect(typeof callback).toBe('function');
    await callback();
    expect(tree.exists('package-lock.json')).toBe(false);
  });

  // Pitfall 8: without an install after generation, package-lock.json misses the new workspace and `npm ci` fails.
  // This runs the real callback (npm install, offline: the workspace has no registry dependencies) on disk.
  it('runs npm install so package-lock.json learns the new workspace', async () => {
    const root = mkdtempSync(join(tmpdir(), 'trainer-gen-'));
    dirs.push(root);
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: '@trainers/source', version: '0.0.0', private: true, workspaces: ['apps/*', 'libs/*'] }));
    writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ files: [], references: [] }));
    mkdirSync(join(root, 'libs', 'trainer-contract'), { recursive: true });
    writeFileSync(join(root, 'libs', 'trainer-contract', 'package.json'), JSON.stringify({ name: '@trainers/trainer-contract', version: '0.1.0' }));
    const env = { npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', npm_config_loglevel: 'error' };
    execFileSync('npm', ['install'], { cwd: root, env: { ...process.env, ...env }, stdio: 'ignore' });

    const tree = new FsTree(root, false);
    const callback = await trainerGenerator(tree, { name: 'demo-fw', skipFormat: true });
    flushChanges(root, tree.listChanges());
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env, { NX_GENERATE_QUIET: 'true' });
    try {
      await callback();
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
      delete process.env['NX_GENERATE_QUIET'];
    }

    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
    expect(lock.packages['apps/demo-fw']).toMatchObject({ name: '@trainers/demo-fw', dependencies: { '@trainers/trainer-contract': '*' } });
    expect(lock.packages['node_modules/@trainers/demo-fw']).toEqual({ resolved: 'apps/demo-fw', link: true });
    expect(existsSync(join(root, 'node_modules', '.bin', 'trainer-demo-fw'))).toBe(true);
    expect(statSync(join(root, 'apps', 'demo-fw', 'bin', 'trainer-demo-fw.mjs')).mode & 0o111).not.toBe(0);
    expect(JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')).references).toEqual([{ path: './apps/demo-fw' }]);
  });
});
