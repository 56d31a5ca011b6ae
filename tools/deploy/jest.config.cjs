// Runs the built apps (the nx test target builds every app first: implicitDependencies apps/*).
module.exports = {
  displayName: 'deploy',
  preset: '../../jest.preset.js',
  extensionsToTreatAsEsm: ['.ts'],
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  testTimeout: 180000,
  coverageDirectory: 'test-output/jest/coverage',
};
