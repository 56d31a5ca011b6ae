module.exports = {
  displayName: 'ultralytics',
  preset: '../../jest.preset.js',
  extensionsToTreatAsEsm: ['.ts'],
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/e2e/**/*.e2e.ts'],
  testTimeout: 180000,
  coverageDirectory: 'test-output/jest/coverage',
};
