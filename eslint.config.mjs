// One lint over the TypeScript sources (typed rules through the TS project service) and the tools' scripts.
// `npm run lint` runs this, plus knip, madge and ruff (tools/scripts/lint.mjs).
import { dirname, relative, resolve, sep } from 'node:path';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const root = import.meta.dirname;

// libs/trainer-contract/src: each module may import only modules on a lower layer (or its own layer). Siblings on
// one layer may import each other; madge --circular keeps that acyclic. This is the graph as it is and is meant to
// be: cli only parses arguments, and lifecycle builds on it; bridge implements lifecycle's TrainerDriver;
// testing and conformance are test support above everything, which only specs may import from lower layers.
const contractLayers = [
  ['domain'],
  ['errors'],
  ['log'],
  ['retry', 'convert', 'config', 's3'],
  ['callbacks', 'mlflow', 'cli', 'k8s', 'kubeflow'],
  ['lifecycle'],
  ['bridge'],
  ['testing', 'conformance'],
];
const contractSrc = resolve(root, 'libs/trainer-contract/src');
const layerOf = new Map(contractLayers.flatMap((mods, i) => mods.map((m) => [m, i])));
const moduleOf = (file) => {
  const rel = relative(contractSrc, file);
  if (rel.startsWith('..') || !rel.includes(sep)) return undefined;
  return rel.split(sep)[0];
};

const layering = {
  meta: {
    type: 'problem',
    schema: [],
    messages: {
      upward: "'{{from}}' (layer {{fromLayer}}) must not import '{{to}}' (layer {{toLayer}}): lower modules never import higher ones (eslint.config.mjs, contractLayers)",
      unknown: "module '{{mod}}' has no layer: add it to contractLayers in eslint.config.mjs",
    },
  },
  create(context) {
    const file = context.filename;
    const from = moduleOf(file);
    if (from === undefined) return {};
    const isSpec = /\.(spec|test)\.ts$/.test(file);
    const check = (node) => {
      const source = node.source;
      if (!source || source.type !== 'Literal' || typeof source.value !== 'string' || !source.value.startsWith('.')) return;
      const to = moduleOf(resolve(dirname(file), source.value));
      if (to === undefined || to === from) return;
      const fromLayer = layerOf.get(from);
      const toLayer = layerOf.get(to);
      if (fromLayer === undefined) return context.report({ node, messageId: 'unknown', data: { mod: from } });
      if (toLayer === undefined) return context.report({ node: source, messageId: 'unknown', data: { mod: to } });
      if (toLayer <= fromLayer) return;
      if (isSpec && (to === 'testing' || to === 'conformance')) return;
      context.report({ node: source, messageId: 'upward', data: { from, to, fromLayer, toLayer } });
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
  },
};

const typedRules = {
  '@typescript-eslint/no-floating-promises': 'error',
  '@typescript-eslint/no-misused-promises': 'error',
  '@typescript-eslint/await-thenable': 'error',
};

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', '**/dist/**', '**/out-tsc/**', '**/coverage/**', 'tools/trainer-plugin/src/generators/*/files/**'],
  },
  {
    files: ['**/*.ts', '**/*.mjs'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    languageOptions: { globals: globals.node },
    rules: {
      // Unused names fail typecheck already (noUnusedLocals); `_`-prefixed ones are deliberate (destructured out).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['apps/*/src/**/*.ts', 'apps/*/e2e/**/*.ts', 'libs/*/src/**/*.ts', 'tools/*/src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: root } },
    rules: typedRules,
  },
  {
    files: ['libs/trainer-contract/src/**/*.ts'],
    plugins: { trainers: { rules: { layering } } },
    rules: { 'trainers/layering': 'error' },
  },
);
