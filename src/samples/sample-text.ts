// Plausible words, names and sentences for sample-world content, all drawn from a seeded generator.
import type { SeededRandom } from './seeded-random.js';

export const FIRST_NAMES = [
  'alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'niaj', 'olivia',
  'peggy', 'rupert', 'sybil', 'trent', 'victor', 'walter', 'yusuf', 'zoe', 'amara', 'bruno', 'chen', 'dmitri',
  'elena', 'farah', 'gustav', 'hana', 'ines', 'jonas', 'kenji', 'lucia', 'mateo', 'nadia', 'oskar', 'priya',
  'quentin', 'rosa', 'sanjay', 'tomas', 'ulla', 'vera', 'wei', 'ximena', 'yara',
] as const;

export const LAST_NAMES = [
  'adams', 'baker', 'clark', 'diaz', 'evans', 'fischer', 'garcia', 'hughes', 'ito', 'jensen', 'khan', 'lopez',
  'moreau', 'nakamura', 'okafor', 'patel', 'quinn', 'rossi', 'silva', 'tanaka', 'umar', 'varga', 'weber', 'xu',
  'young', 'zimmer', 'novak', 'larsen', 'kowalski', 'dubois', 'santos', 'berg', 'costa', 'haddad', 'ivanova',
] as const;

const WORDS = [
  'the', 'a', 'we', 'they', 'our', 'this', 'that', 'next', 'last', 'new', 'team', 'project', 'budget', 'meeting',
  'report', 'draft', 'review', 'plan', 'schedule', 'invoice', 'contract', 'client', 'deadline', 'release', 'update',
  'quarter', 'numbers', 'slides', 'agenda', 'notes', 'summary', 'feedback', 'design', 'proposal', 'launch', 'travel',
  'flight', 'hotel', 'dinner', 'weekend', 'morning', 'afternoon', 'tomorrow', 'today', 'Monday', 'Tuesday',
  'Wednesday', 'Thursday', 'Friday', 'office', 'call', 'document', 'spreadsheet', 'figures', 'approval', 'version',
  'needs', 'should', 'will', 'can', 'could', 'might', 'please', 'check', 'send', 'share', 'confirm', 'move', 'finish',
  'start', 'discuss', 'prepare', 'attach', 'sign', 'book', 'cancel', 'postpone', 'before', 'after', 'during', 'about',
  'with', 'for', 'from', 'into', 'over', 'under', 'again', 'soon', 'already', 'still', 'quickly', 'carefully',
  'important', 'final', 'second', 'shared', 'updated', 'revised', 'open', 'pending', 'small', 'large', 'late', 'early',
  'garden', 'kitchen', 'school', 'birthday', 'party', 'gift', 'photos', 'recipe', 'concert', 'tickets', 'train',
  'coffee', 'lunch', 'groceries', 'rent', 'insurance', 'doctor', 'appointment', 'car', 'bike', 'holiday', 'beach',
] as const;

const SUBJECT_TOPICS = [
  'Quarterly budget review', 'Contract renewal', 'Team offsite plans', 'Invoice 2026-0412', 'Release checklist',
  'Slides for Thursday', 'Travel itinerary', 'Dinner on Friday?', 'Birthday party photos', 'Insurance documents',
  'Project kickoff', 'Design feedback', 'Weekly status', 'Apartment viewing', 'Concert tickets', 'Recipe you asked for',
  'Café meetup', 'Überprüfung des Angebots', 'Rendez-vous à Montréal', 'Signed agreement', 'Minutes of the meeting',
] as const;

const GREETINGS = ['Hi', 'Hello', 'Dear', 'Hey', 'Good morning'] as const;
const CLOSINGS = ['Thanks', 'Best', 'Cheers', 'Kind regards', 'See you soon', 'Talk soon'] as const;

export function capitalize(word: string): string {
  return word.length === 0 ? word : word[0]!.toUpperCase() + word.slice(1);
}

export function sentence(random: SeededRandom): string {
  const count = random.between(5, 16);
  const words: string[] = [];
  for (let i = 0; i < count; i += 1) words.push(random.pick(WORDS));
  return `${capitalize(words.join(' '))}${random.pick(['.', '.', '.', '?', '!'])}`;
}

/** Paragraphs of sentences, about `bytes` long (at least one sentence). */
export function prose(random: SeededRandom, bytes: number, newline = '\n'): string {
  const parts: string[] = [];
  let length = 0;
  let inParagraph = 0;
  do {
    const next = sentence(random);
    parts.push(next);
    length += next.length + 1;
    inParagraph += 1;
    if (inParagraph >= random.between(3, 7)) {
      parts.push(newline + newline);
      inParagraph = 0;
    } else {
      parts.push(' ');
    }
  } while (length < bytes);
  return parts.join('').trimEnd();
}

export function subject(random: SeededRandom): string {
  return random.pick(SUBJECT_TOPICS);
}

export function letter(random: SeededRandom, to: string, from: string, bytes: number, newline: string): string {
  return [
    `${random.pick(GREETINGS)} ${capitalize(to)},`,
    '',
    prose(random, bytes, newline),
    '',
    `${random.pick(CLOSINGS)},`,
    capitalize(from),
    '',
  ].join(newline);
}

export function chatLine(random: SeededRandom): string {
  const short = ['ok', 'sure!', 'on my way', 'lol', 'thanks :)', 'call you later', 'sounds good', 'can you send it?'];
  return random.chance(0.35) ? random.pick(short) : sentence(random);
}

/** An address from the documentation ranges (RFC 5737, RFC 3849): never a real person's address. */
export function ipAddress(random: SeededRandom): string {
  if (random.chance(0.15)) {
    const groups = Array.from({ length: 3 }, () => random.below(0x10000).toString(16));
    return `2001:db8:${random.below(0x10000).toString(16)}::${groups.join(':')}`;
  }
  return `${random.pick(['192.0.2', '198.51.100', '203.0.113'])}.${random.between(1, 254)}`;
}
