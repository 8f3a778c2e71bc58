/**
 * Waits until `check` holds, polling every few milliseconds; rejects naming `what` when it does
 * not hold within `timeoutMs`. Tests wait on the condition they need, never for a fixed time.
 */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
