// A request's target as a URL, without throwing: WHATWG URL rejects some targets Node's HTTP parser lets
// through (`GET //a:99999` is a host with a bad port), and a throw in a request handler that nothing
// catches ends the process, the relay with it under `start`.

/** The target resolved against `base`, or undefined when it is not a URL. */
export function requestTarget(target: string | undefined, base: string): URL | undefined {
  try {
    return new URL(target ?? '/', base);
  } catch {
    return undefined;
  }
}
