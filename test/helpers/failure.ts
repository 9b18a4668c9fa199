/** Awaits a promise that must fail, and returns the error (a promise that settles is a test failure). */
export async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a failure')
}
