// Error text for logs and delivery reasons. No imports: the sinks use it without loading the function runtime
// (runtime.ts pulls in the config loader: yaml, luxon, the generated schema validator).

/** An Error's message, or anything else thrown as a string. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
