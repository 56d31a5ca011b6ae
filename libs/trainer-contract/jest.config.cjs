module.exports = {
  displayName: 'trainer-contract',
  preset: '../../jest.preset.js',
  extensionsToTreatAsEsm: ['.ts'],
  testTimeout: 60000,
  coverageDirectory: 'test-output/jest/coverage',
};
