/**
 * The closest of some names to what was typed, for "did you mean …?": mistyped commands
 * (src/cli/command-not-found.ts) and mistyped flags (src/base-command.ts).
 */
import type * as Levenshtein from 'fastest-levenshtein'

import {requireCjs} from './require-cjs.js'

/** The candidate nearest to `typed`, when a third of its letters wrong at most ("add-clint" → add-client; "foo" → nothing). */
export function closestName(typed: string, candidates: Iterable<string>): {name: string; distance: number} | undefined {
  // Loaded when a name was mistyped, not by every command that might meet one.
  const {distance} = requireCjs('fastest-levenshtein') as typeof Levenshtein
  let best: {name: string; distance: number} | undefined
  for (const name of candidates) {
    const away = distance(typed, name)
    if (!best || away < best.distance) best = {name, distance: away}
  }
  return best && best.distance <= Math.max(1, Math.floor(typed.length / 3)) ? best : undefined
}
