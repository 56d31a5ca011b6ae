// The shared trainer-app config: ESM TypeScript, specs in src/, e2e/ against the built bundle.
module.exports = require('../../jest.app.cjs')('hf');
