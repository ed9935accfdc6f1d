// Preloaded (--require) into emulator child processes so they end with the test process that
// started them — also when it is SIGKILLed and no exit hook runs: once the parent is gone the
// kernel re-parents the child, and its parent pid changes.
// NOTE: not "exit when stdin closes": reading stdin before the main module has loaded stalls
// Node 20's module loading when an --import loader (tsx) is in use.
'use strict';
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000).unref();
