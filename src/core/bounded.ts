/**
 * Waiting on a plugin's code with a bound: a probe or a check of one installed plugin that never
 * answers must not stop every command (QA: a hanging probe() of a backend nobody selected made
 * list-clients on an empty SQLite database exit 13 without a word, and add-client hang).
 */

/** What {@link settleWithin} found. */
export type Bounded<T> = {settled: true; value: T} | {settled: false}

/**
 * The value of `work()`, or `{settled: false}` when it has not settled within `ms`. Its failure is
 * passed on. The timer keeps the process alive meanwhile: a promise that holds nothing open would
 * otherwise let Node exit mid-command (code 13).
 */
export async function settleWithin<T>(work: () => T | Promise<T>, ms: number): Promise<Bounded<T>> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<Bounded<T>>((resolve) => {
    timer = setTimeout(() => resolve({settled: false}), ms)
  })
  try {
    // Called inside a promise: a plugin's function that returns a plain value, or throws, is
    // taken as a promise would be (QA: a synchronous probe gave "work.then is not a function").
    const answered = Promise.resolve().then(work).then((value): Bounded<T> => ({settled: true, value}))
    return await Promise.race([answered, expired])
  } finally {
    clearTimeout(timer)
  }
}
