// A signal that ends the process at once (before a command's interruptible work) waits for a step that must not be
// cut in two: a custody record and its head file. Cut there, the record is left past its head file, which audit
// verify and every later append refuse until a person confirms it.
import { describe, expect, it, vi } from 'vitest';
import { handleInterruptsFromStart, holdingInterrupts, interruptsReleased } from '../../src/util/interrupts.js';

const turn = () => new Promise<void>((resolve) => setTimeout(resolve, 20));

describe('holdingInterrupts', () => {
  it('makes an early interrupt wait until the held step is done, and lets one through at once otherwise', async () => {
    const early = vi.fn();
    handleInterruptsFromStart(early);
    let finish: () => void = () => undefined;
    const step = holdingInterrupts(() => new Promise<string>((resolve) => (finish = () => resolve('written'))));
    process.emit('SIGTERM', 'SIGTERM');
    await turn();
    expect(early).not.toHaveBeenCalled();
    let released = false;
    void interruptsReleased().then(() => (released = true));
    await turn();
    expect(released).toBe(false);
    finish();
    expect(await step).toBe('written');
    await turn();
    expect(released).toBe(true);
    expect(early).toHaveBeenCalledTimes(1);
    expect(early).toHaveBeenCalledWith('SIGTERM');
    process.emit('SIGHUP', 'SIGHUP');
    await turn();
    expect(early).toHaveBeenLastCalledWith('SIGHUP');
  });

  it('lets go when the held step fails, passing its error on', async () => {
    await expect(holdingInterrupts(() => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full');
    let released = false;
    void interruptsReleased().then(() => (released = true));
    await turn();
    expect(released).toBe(true);
  });
});
