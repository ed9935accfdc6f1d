// Preloaded into the auditflow child by the benchmark (NODE_OPTIONS="--require <this file>";
// Node 20 refuses --cpu-prof in NODE_OPTIONS). Profiles the main thread with V8's sampling
// profiler over exactly the window the benchmark marks: the first SIGUSR2 starts it, the second
// stops it and writes BENCH_CPU_PROFILE_DIR/auditflow-<pid>.cpuprofile (also written at exit if
// still running). Nothing here changes the product; without the signals it does nothing.
'use strict';
const inspector = require('node:inspector');
const fs = require('node:fs');
const path = require('node:path');

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  let state = 'idle';
  const stop = () => {
    if (state !== 'running') return;
    state = 'done';
    session.post('Profiler.stop', (err, res) => {
      if (err) return void process.stderr.write(`cpu-profiler: ${err.message}\n`);
      fs.writeFileSync(path.join(dir, `auditflow-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
      process.stdout.write('cpu-profiler: written\n');
    });
  };
  process.on('SIGUSR2', () => {
    if (state === 'idle') {
      state = 'running';
      session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 500 }, () => session.post('Profiler.start', () => {
        process.stdout.write('cpu-profiler: started\n');
      })));
    } else stop();
  });
  process.on('exit', stop);
}
