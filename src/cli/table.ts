/**
 * Plain tables (no colours: they go into logs and pipes too), drawn by cli-table3.
 *
 * cli-table3 lays a table out in time quadratic in its rows (every cell is checked against every
 * cell before it, for row and column spans we never use): `list-clients` of 5,000 clients took
 * 6.7 s, of 20,000 clients 61 s (measured). So a long table is drawn in slices of
 * {@link ROWS_PER_SLICE} rows, each with the column widths of the whole table, and the slices are
 * joined without the borders between them: the same text as one cli-table3 table, in linear time.
 */
import type CliTable3 from 'cli-table3'

import {requireCjs} from '../core/require-cjs.js'

/** Rows drawn by one cli-table3 table: below this, the quadratic layout costs nothing noticeable. */
export const ROWS_PER_SLICE = 250

/** cli-table3's default cell padding: one space on each side. */
const PADDING = 2

type Cells = Array<string | number>

export function renderTable(head: string[], rows: Cells[]): string {
  // Required here, not imported at the top: a quiet or JSON listing never draws a table.
  const Table = requireCjs('cli-table3') as typeof CliTable3
  const style = {head: [], border: [], compact: true}
  if (rows.length <= ROWS_PER_SLICE) return draw(new Table({head, style}), rows)
  const colWidths = columnWidths(head, rows)
  const lines: string[] = []
  for (let start = 0; start < rows.length; start += ROWS_PER_SLICE) {
    const first = start === 0
    const last = start + ROWS_PER_SLICE >= rows.length
    const slice = draw(new Table({head: first ? head : [], style, colWidths}), rows.slice(start, start + ROWS_PER_SLICE)).split('\n')
    // A slice's own top and bottom borders are kept only at the table's top and bottom.
    lines.push(...slice.slice(first ? 0 : 1, last ? slice.length : -1))
  }
  return lines.join('\n')
}

function draw(table: CliTable3.Table, rows: Cells[]): string {
  for (const row of rows) table.push(row.map(String))
  return table.toString()
}

/** The widths cli-table3 gives the columns of the whole table: the widest cell (in terminal columns) plus padding. */
function columnWidths(head: string[], rows: Cells[]): number[] {
  const stringWidth = requireCjs('string-width') as (text: string) => number
  const widths = head.map((cell) => displayWidth(cell, stringWidth))
  for (const row of rows) {
    for (const [index, cell] of row.entries()) widths[index] = Math.max(widths[index] ?? 0, displayWidth(String(cell), stringWidth))
  }
  return widths.map((width) => width + PADDING)
}

/** What cli-table3 measures: colour codes take no room, and a cell of several lines is as wide as its widest line. */
function displayWidth(text: string, stringWidth: (text: string) => number): number {
  let widest = 0
  for (const line of text.replaceAll(/\u001B\[(?:\d*;){0,5}\d*m/g, '').split('\n')) widest = Math.max(widest, stringWidth(line))
  return widest
}
