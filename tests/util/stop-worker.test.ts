// stopWorker waits for a thread to stop, but never longer than it is told: a terminate() that does not settle
// must not leave its caller (an export's clean-up) waiting forever.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { stopWorker } from '../../src/util/stop-worker.js';

describe('stopWorker', () => {
  it('goes on after the wait when terminate() never settles', async () => {
    let asked = 0;
    const stuck = { terminate: () => { asked += 1; return new Promise<number>(() => undefined); } } as unknown as Worker;
    const started = Date.now();
    await stopWorker(stuck, 100);
    expect(asked).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });

  it('returns as soon as a real thread has stopped, and a failing terminate() is not an error', async () => {
    const worker = new Worker("require('node:worker_threads').parentPort.on('message', () => {})", { eval: true });
    worker.unref();
    let exited = false;
    worker.once('exit', () => {
      exited = true;
    });
    const started = Date.now();
    await stopWorker(worker, 10_000);
    expect(exited).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    const failing = { terminate: () => Promise.reject(new Error('gone')) } as unknown as Worker;
    await expect(stopWorker(failing, 10_000)).resolves.toBeUndefined();
  });
});
