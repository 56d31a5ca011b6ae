// CommonJS package (Nx loads generators with require), so unlike the ESM apps no extensionsToTreatAsEsm.
module.exports = {
  displayName: 'trainer-plugin',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  // The spec runs the install callback for real (offline npm in a temp workspace).
  testTimeout: 120000,
  coverageDirectory: 'test-output/jest/coverage',
};
