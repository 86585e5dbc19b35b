// The byte counts rsync reports with --stats ("Total bytes sent: 1,234"), as numbers.
export function parseRsyncStats(stdout) {
  const read = (label) => {
    const match = new RegExp(`${label}:\\s*([\\d,.]+)`).exec(stdout);
    return match ? Number(match[1].replace(/[,.]/g, "")) : undefined;
  };
  return { sent: read("Total bytes sent"), received: read("Total bytes received") };
}
