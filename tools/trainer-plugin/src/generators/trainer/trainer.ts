import * as path from 'node:path';
import {
  formatFiles,
  generateFiles,
  getProjects,
  installPackagesTask,
  names,
  readJson,
  updateJson,
  type GeneratorCallback,
  type Tree,
} from '@nx/devkit';
import type { TrainerGeneratorSchema } from './schema';

const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const DEFAULT_SCOPE = '@trainers';

/** Everything the templates substitute; kept in one place so the spec can assert on the same values. */
export interface TrainerTemplateVars {
  /** `timm`, `demo-fw`: folder, project and file name. */
  name: string;
  /** `Timm`, `DemoFw`: the create<ClassName>Driver factory. */
  className: string;
  /** `timm`, `demoFw`: the <propertyName>ConfigSchema export. */
  propertyName: string;
  /** `TIMM`, `DEMO_FW`: the <CONSTANT>_OWNED_KEYS export. */
  constantName: string;
  /** `@trainers` (from the root package.json name). */
  scope: string;
  /** `apps/timm`. */
  projectRoot: string;
  /** Template file-name placeholder (`__tmpl__` suffix is stripped). */
  tmpl: string;
}

/**
 * `nx g @trainers/trainer-plugin:trainer <name>`: apps/<name> (driver, config, metrics, Python bridge, tests),
 * docker/<name>.Dockerfile and a root tsconfig reference. Returns the npm install that links the new workspace
 * into node_modules and package-lock.json, without which `npm ci` fails (`Missing: @trainers/<name> from lock file`).
 */
export async function trainerGenerator(tree: Tree, options: TrainerGeneratorSchema): Promise<GeneratorCallback> {
  const vars = templateVars(tree, options.name);
  const { projectRoot } = vars;

  if (tree.exists(projectRoot)) throw new Error(`${projectRoot} already exists; pick another name or delete it first`);
  if (getProjects(tree).has(vars.name)) throw new Error(`a project named "${vars.name}" already exists; pick another name`);
  const dockerfile = `docker/${vars.name}.Dockerfile`;
  if (tree.exists(dockerfile)) throw new Error(`${dockerfile} already exists; pick another name or delete it first`);

  generateFiles(tree, path.join(__dirname, 'files', 'app'), projectRoot, vars);
  generateFiles(tree, path.join(__dirname, 'files', 'docker'), 'docker', vars);
  // npm links bins with +x anyway; this keeps `./bin/trainer-<name>.mjs` runnable straight from a checkout.
  tree.changePermissions(`${projectRoot}/bin/trainer-${vars.name}.mjs`, '755');
  addRootReference(tree, projectRoot);

  if (!options.skipFormat) await formatFiles(tree);
  // `true`: install even though the root package.json is unchanged; the new workspace's package.json is what changed.
  return () => {
    if (!options.skipInstall) installPackagesTask(tree, true);
  };
}

export function templateVars(tree: Tree, rawName: string): TrainerTemplateVars {
  const name = String(rawName ?? '').trim();
  if (!NAME.test(name)) {
    throw new Error(`name: "${name}" must be lower-case letters and digits, words joined by single dashes (timm, hf, demo-fw)`);
  }
  const n = names(name);
  return {
    name: n.fileName,
    className: n.className,
    propertyName: n.propertyName,
    constantName: n.constantName,
    scope: scopeOf(tree),
    projectRoot: `apps/${n.fileName}`,
    tmpl: '',
  };
}

/** `@trainers/source` → `@trainers`: packages, the customCondition and imports all share the root's scope. */
function scopeOf(tree: Tree): string {
  if (!tree.exists('package.json')) return DEFAULT_SCOPE;
  const rootName = readJson<{ name?: string }>(tree, 'package.json').name ?? '';
  const m = /^(@[^/]+)\//.exec(rootName);
  return m ? m[1]! : DEFAULT_SCOPE;
}

/** The root solution tsconfig lists every project; `nx sync:check` (CI) fails on a missing one. */
function addRootReference(tree: Tree, projectRoot: string): void {
  if (!tree.exists('tsconfig.json')) return;
  const refPath = `./${projectRoot}`;
  const refs = readJson<{ references?: { path: string }[] }>(tree, 'tsconfig.json').references ?? [];
  if (refs.some((r) => path.posix.normalize(r.path) === path.posix.normalize(refPath))) return;
  // Append in place when the list is on one line, so the diff is one line too; otherwise let updateJson rewrite it.
  const text = tree.read('tsconfig.json', 'utf-8')!;
  const oneLine = /("references"\s*:\s*\[)([^\]\n]*)\]/.exec(text);
  if (oneLine) {
    const inner = oneLine[2]!.trimEnd();
    const edited = text.replace(oneLine[0], `${oneLine[1]}${inner}${inner.trim() ? ', ' : ''}{ "path": "${refPath}" }]`);
    tree.write('tsconfig.json', edited);
    return;
  }
  updateJson<{ references?: { path: string }[] }>(tree, 'tsconfig.json', (json) => ({ ...json, references: [...(json.references ?? []), { path: refPath }] }));
}
