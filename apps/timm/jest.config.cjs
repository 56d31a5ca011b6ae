// Real timm (e2e/) trains on CPU, and a busy 2-core machine makes one job take minutes: give each test room.
module.exports = require('../../jest.app.cjs')('timm', { testTimeout: 900000 });
