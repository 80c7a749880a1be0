/** What a processor's chunk means as text: strings as they are, bytes as UTF-8, nothing as ''. */
const decoder = new TextDecoder();

export function chunkText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return decoder.decode(value);
  if (value === null || value === undefined) return '';
  return String(value);
}
