// Settings both stores pin, so chDB and ClickHouse server return the same shapes and parse
// inserts the same way whatever their defaults (which differ between versions).

/** The JSON shapes rows come back in (ClickHouse 26.x defaults; servers before 25.8 quote 64-bit ints). */
export const RESULT_SHAPE_SETTINGS = {
  output_format_json_quote_64bit_integers: 0,
  output_format_json_quote_decimals: 0,
  date_time_output_format: 'simple',
} as const;

/**
 * JSONEachRow inserts: ISO 8601 `…T…Z` times parse (`best_effort`); an unknown field is an error,
 * not silently dropped (a message that claimed the log form but is not must fail its insert so the
 * sink re-validates it); `async_insert: 0`: acknowledged only once written (26.x defaults to 1).
 */
export const INSERT_SETTINGS = {
  date_time_input_format: 'best_effort',
  input_format_skip_unknown_fields: 0,
  async_insert: 0,
} as const;

/** The same settings as chDB command-line arguments. */
export function chdbSettingArgs(): string[] {
  return Object.entries({ ...RESULT_SHAPE_SETTINGS, ...INSERT_SETTINGS }).map(([k, v]) => `--${k}=${v}`);
}
