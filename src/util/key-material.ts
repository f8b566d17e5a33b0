// Text that may be key material: a PEM block, a long run of hex (a raw key, 32 bytes as 64 characters), or a long run
// of base64. scopex never shows such text back: a key pasted into the wrong place (a config path, an order field) must
// not reach the terminal, --json output or the custody log through the error that refuses it.

const PEM = /-----BEGIN [^-\r\n]{1,64}-----[\s\S]*?(?:-----END [^-\r\n]{1,64}-----|$)/g;
/** 16 bytes or more as hex. */
const HEX_RUN = /[0-9A-Fa-f]{32,}/g;
/** 30 bytes or more as base64 or base64url (told from a path by its mix of characters: see isBase64Like). */
const BASE64_RUN = /[A-Za-z0-9+/_=-]{40,}/g;

export const NOT_SHOWN = '[not shown: it may be key material]';

/** True when `text` holds anything `redactKeyMaterial` would hide. */
export function looksLikeKeyMaterial(text: string): boolean {
  return redactKeyMaterial(text) !== text;
}

/** `text` with every PEM block, long hex run and long base64 run replaced by NOT_SHOWN. */
export function redactKeyMaterial(text: string): string {
  if (text.length < 32) return text;
  return text.replace(PEM, NOT_SHOWN).replace(HEX_RUN, NOT_SHOWN).replace(BASE64_RUN, (run) => (isBase64Like(run) ? NOT_SHOWN : run));
}

/**
 * A run that mixes cases and digits as encoded random bytes do: about 40% capitals, 40% small letters and 15% digits.
 * A path or a name (`/tmp/scopex-J7PbuA/w/stores/mail/acct-0001`) is mostly small letters.
 */
function isBase64Like(run: string): boolean {
  let upper = 0;
  let lower = 0;
  let digits = 0;
  for (let i = 0; i < run.length; i++) {
    const code = run.charCodeAt(i);
    if (code >= 0x41 && code <= 0x5a) upper += 1;
    else if (code >= 0x61 && code <= 0x7a) lower += 1;
    else if (code >= 0x30 && code <= 0x39) digits += 1;
  }
  return upper >= run.length * 0.2 && lower >= run.length * 0.2 && digits > 0;
}
