import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// In an app's bundle this module is inlined into dist/main.js, and the build copies the runtime to dist/python/.
// From sources (tests) or the library's own dist/, it sits two levels below the library root, beside python/.
const HERE = dirname(fileURLToPath(import.meta.url));
const BUNDLED = join(HERE, 'python');
const IS_BUNDLE = existsSync(join(BUNDLED, 'trainer_bridge', '__init__.py'));

/** The folder that holds the `trainer_bridge` package: what goes first on the child's PYTHONPATH. */
export function bridgeRuntimeDir(): string {
  return IS_BUNDLE ? BUNDLED : resolve(HERE, '..', '..', 'python');
}

/** The app's bridge script: `<appRoot>/<bridgeFile>` from sources, `dist/python/<its name>` in a bundle. */
export function bridgeScriptPath(appRoot: string, bridgeFile: string): string {
  return IS_BUNDLE ? join(BUNDLED, basename(bridgeFile)) : join(appRoot, bridgeFile);
}

/** The app folder of a module in the app's src/ (tests) or dist/ (the bundle): both sit one level below it. */
export function appRootOf(moduleUrl: string): string {
  return resolve(dirname(fileURLToPath(moduleUrl)), '..');
}
