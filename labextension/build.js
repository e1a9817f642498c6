// Builds the prebuilt extension with @jupyterlab/builder against JupyterLab's published
// core metadata (@jupyterlab/core-meta), so the build needs Node.js and the npm registry
// only — no JupyterLab install and no other network access.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const core = fs.mkdtempSync(path.join(os.tmpdir(), 'jupyterlab-core-'));
try {
  fs.copyFileSync(require.resolve('@jupyterlab/core-meta/core.package.json'), path.join(core, 'package.json'));
  const builder = require.resolve('@jupyterlab/builder/lib/build-labextension.js');
  execFileSync(process.execPath, [builder, '--core-path', core, ...process.argv.slice(2), __dirname], {
    stdio: 'inherit'
  });
} finally {
  fs.rmSync(core, { recursive: true, force: true });
}
