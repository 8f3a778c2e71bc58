/**
 * Input quoted back to a client (gRPC status details, WebSocket and HTTP error bodies) or into a
 * log must stay small whatever the client sent: a name of 10 000 characters echoed whole once
 * overflowed gRPC's metadata limit. These helpers cut it and say how much was cut.
 */

/** Characters of one piece of client input echoed back by default. */
export const ECHO_MAX_CHARS = 64;
/** Characters of a whole error message that quotes input (and lists of served streams). */
export const MESSAGE_MAX_CHARS = 512;

function cut(text: string, maxChars: number): string {
  let end = maxChars;
  // Never split a surrogate pair: a lone half would turn into U+FFFD on the wire.
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return text.slice(0, end);
}

/** `value` if short, else its first `maxChars` characters and how many more there were. */
export function truncateInput(value: string, maxChars = ECHO_MAX_CHARS): string {
  if (value.length <= maxChars) return value;
  const shown = cut(value, maxChars);
  return `${shown}…(${value.length - shown.length} more chars)`;
}

/** Bounds a whole message to `maxChars` characters, marking the cut. */
export function boundMessage(message: string, maxChars = MESSAGE_MAX_CHARS): string {
  if (message.length <= maxChars) return message;
  return `${cut(message, maxChars - 1)}…`;
}

/**
 * A list of names for a message, e.g. the streams a server serves: whole when short, else the
 * first few that fit in `maxChars` and how many more there are.
 */
export function listForMessage(items: readonly string[], maxChars = 200): string {
  const shown: string[] = [];
  let length = 0;
  for (const item of items) {
    const piece = truncateInput(item);
    if (shown.length > 0 && length + piece.length + 2 > maxChars) break;
    shown.push(piece);
    length += piece.length + 2;
  }
  const rest = items.length - shown.length;
  if (shown.length === 0) return '(none)';
  return rest > 0 ? `${shown.join(', ')} and ${rest} more` : shown.join(', ');
}
