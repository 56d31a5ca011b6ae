const nxPreset = require('@nx/jest/preset').default;
// Nx's preset carries a ts-jest transform; we compile with swc instead, so drop it.
const { transform: _tsJest, ...base } = nxPreset;
module.exports = {
  ...base,
  testEnvironment: 'node',
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.[cm]?[tj]s$': ['@swc/jest', { swcrc: false, jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, sourceMaps: 'inline' }],
  },
  // Resolve workspace libs to src/ so tests need no prior build of the libs they import.
  testEnvironmentOptions: { customExportConditions: ['@trainers/source', 'node', 'require', 'default'] },
  coverageReporters: ['text-summary', 'html'],
};
