// How numbers, money and times read in the console.

// null is a percentage Assay did not measure (no lines or no branches); undefined is absent.
export function pct(value: number | null | undefined): string {
  if (value === null) return "not measured";
  return value === undefined ? "–" : `${value.toFixed(1)}%`;
}

export function pctChange(before: number | null, after: number | null): string {
  return before === null && after === null ? "not measured" : `${pct(before)} → ${pct(after)}`;
}

export function usd(value: number | string | null | undefined, known = true): string {
  if (value === null || value === undefined) return "–";
  const amount = Number(value);
  const text = amount > 0 && amount < 0.01 ? `$${amount.toFixed(4)}` : `$${amount.toFixed(2)}`;
  return known ? text : `${text}+`;
}

export function age(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes}m ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours}h ago`;
  return `${Math.round(hours / 24)}d ago`;
}

export function when(iso: string): string {
  return new Date(iso).toLocaleString();
}

export function seconds(value: number): string {
  return value < 60 ? `${value.toFixed(1)} s` : `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
}

// What a person calls an analysis's source: the uploaded directory's or archive's name, else
// the repository's address.
export function repository(source: string, name?: string | null): string {
  if (name) return name;
  if (source.startsWith("artifact:")) return "uploaded archive";
  return source.replace(/^https:\/\//, "").replace(/\.git$/, "");
}

// A share in [0, 1] (an eval's pass rate) as a percentage.
export function rate(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)}%`;
}

// A change of a share in [0, 1] in percentage points, signed.
export function points(delta: number): string {
  const value = 100 * delta;
  return `${value > 0 ? "+" : value < 0 ? "−" : "±"}${Math.abs(value).toFixed(1)} pts`;
}

// An evaluator's score in [0, 1].
export function score(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : value.toFixed(2);
}

// A signed change of a score.
export function signed(value: number, digits = 3): string {
  return `${value > 0 ? "+" : value < 0 ? "−" : "±"}${Math.abs(value).toFixed(digits)}`;
}
