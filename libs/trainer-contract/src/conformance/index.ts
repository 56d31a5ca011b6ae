/**
 * The contract's conformance suite: checks a built trainer against CONTRACT.md from the outside, with its own
 * s3rver, backend and MLflow. An app registers it in one call:
 *
 *   defineConformanceSuite({ name: 'timm', command: [process.execPath, 'apps/timm/bin/trainer-timm.mjs'],
 *     env: { TRAINER_PYTHON: python }, task: 'classify', model: 'resnet18', config: { imgsz: 32 } });
 *
 * `runConformance` gives the same results as data, for scripts and for tests of the suite itself.
 */
export { defineConformanceSuite, type SuiteOptions, type TestApi } from './jest.js';
export { formatReport, runConformance, selectChecks } from './runner.js';
export { realMlflow } from './mlflow.js';
export type {
  CheckResult,
  CheckStatus,
  ConformanceMlflow,
  ConformanceOptions,
  ConformanceProfile,
  ConformanceReport,
  MlflowFactory,
  ScenarioSummary,
} from './types.js';
