// Where an input entry came from, as replay reports it (unreadable and malformed entries): one spelling for every
// reader (the main thread's, the parse workers', the engine workers'), so all replay modes report alike.

/** `file:line`, or `file:line[element]` for an element of a line holding an array (-1: a whole line). */
export function lineSource(file: string, line: number, element: number): string {
  return element < 0 ? `${file}:${line}` : `${file}:${line}[${element}]`;
}
