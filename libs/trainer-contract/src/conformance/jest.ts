import { formatReport, runConformance, selectChecks } from './runner.js';
import type { ConformanceOptions, ConformanceProfile, ConformanceReport } from './types.js';

/** The part of Jest's API the adapter uses; Jest's globals by default, so the library needs no Jest import. */
export interface TestApi {
  describe(name: string, fn: () => void): void;
  beforeAll(fn: () => Promise<unknown>, timeoutMs?: number): void;
  it(name: string, fn: () => Promise<unknown>, timeoutMs?: number): void;
}

export interface SuiteOptions extends ConformanceOptions {
  /** Runs before the suite starts anything (e.g. "the app is built"); its failure fails every check. */
  before?: () => void | Promise<void>;
  /** For the whole run of the suite (default 15 min). */
  timeoutMs?: number;
  /** Defaults to Jest's globals. */
  api?: TestApi;
}

/**
 * Registers the conformance suite as tests: the trainer runs once, in `beforeAll`, and each check is its own
 * test, named by its contract section, failing with the contract-terms messages.
 */
export function defineConformanceSuite(profile: ConformanceProfile, opts: SuiteOptions = {}): void {
  const api = opts.api ?? (globalThis as unknown as TestApi);
  const checks = selectChecks(opts);
  api.describe(`conformance: trainer-${profile.name}`, () => {
    let report: Promise<ConformanceReport> = Promise.reject(new Error('the conformance suite did not start'));
    report.catch(() => undefined);
    api.beforeAll(async () => {
      report = (async () => {
        await opts.before?.();
        const r = await runConformance(profile, opts);
        opts.log?.(formatReport(r));
        return r;
      })();
      await report.catch(() => undefined);
    }, opts.timeoutMs ?? 15 * 60_000);
    for (const check of checks) {
      api.it(`${check.section} ${check.title}`, async () => {
        const result = (await report).checks.find((c) => c.id === check.id);
        if (!result) throw new Error(`check ${check.id} did not run`);
        if (result.status === 'fail') throw new Error(result.failures.join('\n'));
      });
    }
  });
}
