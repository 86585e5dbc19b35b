// Number formatting shared by the tables: sizes in binary units, times in s or ms.
export const MiB = 2 ** 20;

export const format = {
  bytes(n) {
    if (n === undefined || Number.isNaN(n)) return "–";
    if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
    if (n >= MiB) return `${(n / MiB).toFixed(2)} MiB`;
    if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
    return `${n} B`;
  },
  seconds(ms) {
    return ms === undefined ? "–" : `${(ms / 1000).toFixed(2)} s`;
  },
  ms(ms) {
    return ms === undefined ? "–" : `${ms.toFixed(1)} ms`;
  },
  rate(bytesPerSecond) {
    return bytesPerSecond === undefined ? "–" : `${(bytesPerSecond / MiB).toFixed(0)} MiB/s`;
  },
  ratio(value) {
    return value === undefined || !Number.isFinite(value) ? "–" : `${value.toFixed(2)}×`;
  },
  verdict(met) {
    return met === undefined ? "–" : met ? "met" : "not met";
  },
};
