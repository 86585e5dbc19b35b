import { defineConfig } from "vitepress";

export default defineConfig({
  title: "DistSync",
  description: "Keep directories on many machines identical, through one hub.",
  cleanUrls: true,
  ignoreDeadLinks: false,
  themeConfig: {
    nav: [
      { text: "Guide", link: "/guide/getting-started" },
      { text: "Protocol", link: "/protocol" },
    ],
    sidebar: [
      {
        text: "Guide",
        items: [
          { text: "Getting started", link: "/guide/getting-started" },
          { text: "Concepts", link: "/guide/concepts" },
        ],
      },
      { text: "Reference", items: [{ text: "Protocol", link: "/protocol" }] },
    ],
    search: { provider: "local" },
  },
});
