export { defineConformanceSuite, type SuiteOptions, type TestApi } from './jest.js';
export { formatReport, runConformance, selectChecks } from './runner.js';
export { imitationMlflow } from './mlflow.js';
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
