// Frees a dead buffer's memory at once, instead of whenever the collector of its thread gets to it.
//
// The key service's reader thread decrypts a large item into a new 1 MiB buffer per chunk, copies it into a ring slot
// and is done with it. That thread allocates almost nothing on its own heap, so its collector ran seldom and late:
// the dead buffers piled up, and glibc then kept the memory they had held. Making that collector run every few
// chunks (a few young allocations per chunk) helped; freeing each buffer as soon as it is copied does better, for less
// CPU: a 4 GiB export's peak RSS went from ~133 MB to ~123 MB, a 1 GB one's from ~130 MB to ~113 MB (means of 3).
//
// JavaScript has one way to end a buffer's memory on the spot: detach its ArrayBuffer. Node 22 has
// `ArrayBuffer.prototype.transfer` for that; Node 20 (V8 11.3) has it only behind a flag. Moving the ArrayBuffer in a
// message on a port that is closed detaches it as well: the message is dropped at once, and the memory with it.
import { MessageChannel, type MessagePort } from 'node:worker_threads';

type Transferable = ArrayBuffer & { transfer?: (newLength?: number) => ArrayBuffer };

let closedPort: MessagePort | undefined;

function dropPort(): MessagePort {
  if (!closedPort) {
    // The port posted on is closed itself, so that the drop is at once: with only the other end closed, messages
    // wait in a queue until the close has crossed over.
    const channel = new MessageChannel();
    channel.port1.close();
    channel.port2.close();
    closedPort = channel.port1;
  }
  return closedPort;
}

/**
 * Frees the memory under `bytes` now, if `bytes` is the whole of an ArrayBuffer of its own (not shared, not a view
 * into a pool or a larger buffer), and says whether it did. Afterwards `bytes` is empty: its owner must not use it
 * again. Anything else is left as it is.
 */
export function freeNow(bytes: Uint8Array): boolean {
  const buffer = bytes.buffer;
  if (!(buffer instanceof ArrayBuffer) || bytes.byteOffset !== 0 || bytes.byteLength !== buffer.byteLength || buffer.byteLength === 0) return false;
  const transferable = buffer as Transferable;
  try {
    if (typeof transferable.transfer === 'function') transferable.transfer(0);
    else dropPort().postMessage(null, [buffer]);
  } catch {
    // Only memory is at stake: the buffer is left to the collector, as any other.
    return false;
  }
  return buffer.byteLength === 0;
}
