import { defineConfig } from "vitepress";
import { nav, sidebar } from "./navigation.js";

export default defineConfig({
  title: "DistSync",
  description: "Keep directories on many machines identical, through one hub.",
  cleanUrls: true,
  // Broken internal links fail the build: keep this false.
  ignoreDeadLinks: false,
  lastUpdated: false,
  themeConfig: {
    nav,
    sidebar,
    outline: { level: [2, 3] },
    search: { provider: "local" },
  },
});
