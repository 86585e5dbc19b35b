// A plain-text table for the terminal: a title, a header row and right-aligned figures. A long
// "failed: …" cell becomes "failed [n]" with the reason below the table, to keep the columns narrow.
export function printTable(title, header, rows, notes = []) {
  const footnotes = [];
  const cells = [header, ...rows].map((row) =>
    row.map((cell) => {
      const text = String(cell ?? "–");
      if (!text.startsWith("failed: ") || text.length <= 48) return text;
      footnotes.push(`[${footnotes.length + 1}] ${text}`);
      return `failed [${footnotes.length}]`;
    }),
  );
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
  const line = (row) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ");
  console.log(`\n${title}`);
  console.log(line(cells[0]));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of cells.slice(1)) console.log(line(row));
  for (const note of [...footnotes, ...notes]) console.log(`  ${note}`);
}
