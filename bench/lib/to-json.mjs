/** JSON as Biome formats it (latest.json is committed and linted): short arrays on one line. */
export function toJson(value) {
  const text = JSON.stringify(value, null, 2).replace(/\[[^[\]{}]*\]/g, (array) => {
    const line = `[${JSON.parse(array)
      .map((item) => JSON.stringify(item))
      .join(", ")}]`;
    return line.length <= 80 ? line : array;
  });
  return `${text}\n`;
}
