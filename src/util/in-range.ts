// Whether an instant lies in a date range, both ends included, compared exactly.
//
// Date.parse keeps whole milliseconds and drops the digits after them, so an item stamped 23:59:59.0001Z read as
// 23:59:59.000Z, inside a range ending 23:59:59Z although it is 100 us past it. A range's own ends are whole
// milliseconds (the order schema refuses finer ones), so an instant is inside when its whole milliseconds are, unless
// they are the last millisecond of the range and the instant goes on past it.

/** True when `text` (an ISO 8601 instant) has a non-zero digit after the third of its fraction of a second. */
export function pastTheMillisecond(text: string): boolean {
  const dot = text.indexOf('.', 19);
  if (dot < 0) return false;
  for (let index = dot + 1; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 48 || code > 57) return false;
    if (code !== 48 && index > dot + 3) return true;
  }
  return false;
}

/** `at` is Date.parse(`text`); `from` and `to` are whole milliseconds. */
export function instantInRange(text: string, at: number, from: number, to: number): boolean {
  return at >= from && (at < to || (at === to && !pastTheMillisecond(text)));
}

/** The same instant, in any zone; Date.parse stops at the millisecond, so the digits past it are compared too. */
export function sameInstant(a: string, b: string): boolean {
  return Date.parse(a) === Date.parse(b) && fractionPastMillisecond(a) === fractionPastMillisecond(b);
}

function fractionPastMillisecond(text: string): string {
  const match = /\.\d{3}(\d*)/.exec(text);
  return (match?.[1] ?? '').replace(/0+$/, '');
}
