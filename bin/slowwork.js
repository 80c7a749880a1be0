#!/usr/bin/env node
// React's development build costs ~27% more CPU in the live view: pick production before it loads.
process.env.NODE_ENV ??= 'production';
await import('../dist/cli/main.js');
