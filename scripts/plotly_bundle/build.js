// Builds plotly.js from entry.js the way plotly.js builds its own partial bundles (its
// esbuild-config.js), into the file named by the first argument. Run by
// ../build_plotly_bundle.sh in a scratch copy of this directory with its npm packages.
const path = require('path');
const esbuild = require('esbuild');
const { environmentPlugin } = require('esbuild-plugin-environment');
const { glsl } = require('esbuild-plugin-glsl');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');

const version = require('plotly.js/package.json').version;
const out = process.argv[2];

esbuild
    .build({
        entryPoints: [path.join(__dirname, 'entry.js')],
        outfile: out,
        format: 'iife',
        globalName: 'Plotly',
        bundle: true,
        minify: true,
        legalComments: 'eof', // the bundled packages' licence notices
        banner: {
            js:
                `/* plotly.js v${version} (scatter, heatmap, parcoords) for flowlog's dashboard.\n` +
                ' * Copyright 2012-2026, Plotly, Inc. Licensed under the MIT license.\n' +
                ' * Built by scripts/build_plotly_bundle.sh; do not edit. */',
        },
        plugins: [InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
        alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
        define: { global: 'window', 'define.amd': 'false' },
        target: 'es2016',
        logLevel: 'info',
    })
    .catch(() => process.exit(1));
