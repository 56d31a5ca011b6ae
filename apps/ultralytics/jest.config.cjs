// Real Ultralytics (e2e/real-ultralytics.e2e.ts) trains on CPU: give each test more time than the default.
module.exports = require('../../jest.app.cjs')('ultralytics', { testTimeout: 180000 });
