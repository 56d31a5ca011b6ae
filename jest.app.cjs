// The jest config of a trainer app: native ESM TypeScript (execa and yargs ship as ESM only), unit specs beside the
// code, and e2e/ which runs the built app (the nx test target builds first). `.cjs` so Nx loads it without ts-node.
module.exports = (displayName, overrides = {}) => ({
  displayName,
  preset: '../../jest.preset.js',
  extensionsToTreatAsEsm: ['.ts'],
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/e2e/**/*.e2e.ts'],
  testTimeout: 120000,
  coverageDirectory: 'test-output/jest/coverage',
  ...overrides,
});
