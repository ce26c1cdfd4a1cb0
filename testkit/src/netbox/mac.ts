/**
 * MAC addresses the way PostgreSQL `macaddr` reads them (colon, dash, dot and bare forms) and
 * the way NetBox prints them: upper-case, colon-separated (`mac_unix_expanded_uppercase`).
 */
export function normalizeMac(text: string): string | undefined {
  const trimmed = text.trim();
  const forms = [
    /^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i,
    /^[0-9a-f]{6}[:-][0-9a-f]{6}$/i,
    /^[0-9a-f]{4}([.-])[0-9a-f]{4}\1[0-9a-f]{4}$/i,
    /^[0-9a-f]{12}$/i,
  ];
  if (!forms.some((form) => form.test(trimmed))) return undefined;
  const hex = trimmed.replace(/[:.-]/g, '').toUpperCase();
  return hex.match(/.{2}/g)?.join(':');
}
