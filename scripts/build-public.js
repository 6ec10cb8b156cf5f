#!/usr/bin/env node
/**
 * Bundles the browser pages: public/src/<page>.ts → public/dist/<page>.js (one file per page,
 * socket.io-client included). Plain Node + esbuild so it runs without a TypeScript step; esbuild
 * strips types without checking them (`npx tsc -p public/tsconfig.json` checks them).
 * Flags: --watch (rebuild on change), --minify.
 */
'use strict';
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const pages = ['join', 'admin'];

const options = {
  entryPoints: pages.map((p) => path.join(root, 'public/src', `${p}.ts`)),
  outdir: path.join(root, 'public/dist'),
  bundle: true,
  format: 'iife',
  // The browsers docs/browsers.md speaks for: current Chromium, Firefox and Safari.
  target: ['chrome110', 'firefox115', 'safari16'],
  sourcemap: true,
  minify: process.argv.includes('--minify'),
  logLevel: 'warning',
};

async function main() {
  if (process.argv.includes('--watch')) {
    const ctx = await esbuild.context(options);
    await ctx.watch();
    process.stderr.write('[build-public] watching public/src\n');
    return;
  }
  await esbuild.build(options);
  process.stderr.write(`[build-public] built public/dist/{${pages.join(',')}}.js\n`);
}

main().catch((err) => {
  process.stderr.write(`[build-public] ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
