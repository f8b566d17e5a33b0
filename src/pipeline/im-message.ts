// An IM message and its index line must tell the same story. The IM metadata and the content folder take the
// conversation and its parties from the index line (a metadata-only order opens no message); when the provider decrypts
// the message anyway (its content is ordered), what the message says of itself is checked against that line, so an
// archive never names parties, a conversation or a time that its own content contradicts.
import { IntegrityError } from '../errors.js';
import { isInstant } from '../order/schema.js';
import type { ImItem } from '../sources/source-adapter.js';
import { sameInstant } from '../util/in-range.js';
import { createImFactsCollector, MAX_FIELD_BYTES, type ImFactField, type ImFacts } from './im-facts.js';
import type { GateRequest, ScopeGate } from './scope-gate.js';

/**
 * Decision: the error names the field and quotes neither value of a conversation or its parties. Both come from the
 * store and may be anything (a key written in a way no filter knows, base32 say), and the error goes into the custody
 * log for good; a Teams meeting id also looks like base64 to the key filter, which made the error read "X, but its
 * index line says X". Times are quoted: only an instant is (one of the two is the index's, the other was checked to
 * be an instant), and they are what a person compares.
 */

/**
 * Throws a ScopeViolation when the message is dated outside the order, and an IntegrityError (INDEX_DISAGREES) when
 * its conversation, its participants or its time differ from its index line, or it states one of them twice or at a
 * length no index line has. A message that is not one JSON object (read as createImFactsCollector reads it), or lacks a
 * field, is delivered as stored: there is nothing in it to compare.
 */
export function checkImMessage(item: ImItem, bytes: Buffer, gate: ScopeGate, request: GateRequest): void {
  const collector = createImFactsCollector();
  collector.push(bytes);
  checkImFacts(item, collector.facts(), gate, request);
}

/** checkImMessage for a message read as a stream: what createImFactsCollector found in it. */
export function checkImFacts(item: ImItem, read: ImFacts | null, gate: ScopeGate, request: GateRequest): void {
  if (!read) return;
  const disagree = (field: string, message: string, index: string): IntegrityError =>
    new IntegrityError(
      'INDEX_DISAGREES',
      `im item ${JSON.stringify(item.id)} of account ${item.accountId}: the message's ${field} is ${message}, but its index line says ${index}; the export was stopped and nothing was delivered`,
    );
  const indexed: Record<ImFactField, string> = {
    sentAt: item.timestamp,
    conversationId: 'another (neither is shown)',
    participants: `another list of ${item.participants.length} handle${item.participants.length === 1 ? '' : 's'} (neither is shown)`,
  };
  // A field stated twice has two values, and a reader may take either: neither is compared, the export stops.
  for (const field of read.repeated) throw disagree(field, 'stated more than once', indexed[field]);
  for (const field of read.tooLong) throw disagree(field, `longer than ${MAX_FIELD_BYTES} bytes`, indexed[field]);
  const facts = read.values;
  if ('sentAt' in facts) {
    if (!isInstant(facts.sentAt)) throw disagree('sentAt', 'not an instant', item.timestamp);
    gate.checkOwnTime(item, request, facts.sentAt);
    if (!sameInstant(facts.sentAt, item.timestamp)) throw disagree('sentAt', facts.sentAt, item.timestamp);
  }
  if ('conversationId' in facts && facts.conversationId !== item.conversationId) {
    throw disagree('conversationId', typeof facts.conversationId === 'string' ? 'one value' : 'not text', indexed.conversationId);
  }
  if ('participants' in facts && !sameParticipants(facts.participants, item.participants)) {
    const listed = isHandleList(facts.participants) ? `a list of ${facts.participants.length} handle${facts.participants.length === 1 ? '' : 's'}` : 'not a list of handles';
    throw disagree('participants', listed, indexed.participants);
  }
}

/** The same participants, in any order (a set of handles); each handle exactly as written. */
function sameParticipants(message: unknown, index: readonly string[]): boolean {
  if (!isHandleList(message)) return false;
  const indexed = new Set(index);
  const stated = new Set(message);
  return stated.size === indexed.size && [...stated].every((handle) => indexed.has(handle));
}

function isHandleList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((handle) => typeof handle === 'string');
}

