// The site's navigation, kept apart from config.mts (and free of imports) so that the tests can
// check that every page it links to was built.

export interface NavLink {
  text: string;
  link: string;
}

export interface SidebarGroup {
  text: string;
  items: NavLink[];
}

export const nav: NavLink[] = [
  { text: "Guide", link: "/guide/getting-started" },
  { text: "CLI", link: "/reference/cli" },
  { text: "Library API", link: "/reference/api" },
  { text: "Transports", link: "/transports/websocket" },
  { text: "Protocol", link: "/protocol" },
];

export const sidebar: SidebarGroup[] = [
  {
    text: "Guide",
    items: [
      { text: "Getting started", link: "/guide/getting-started" },
      { text: "Concepts", link: "/guide/concepts" },
      { text: "Security", link: "/guide/security" },
      { text: "Troubleshooting", link: "/guide/troubleshooting" },
    ],
  },
  {
    text: "Reference",
    items: [
      { text: "CLI reference", link: "/reference/cli" },
      { text: "Library API", link: "/reference/api" },
      { text: "API reference (generated)", link: "/api/" },
      { text: "Protocol", link: "/protocol" },
    ],
  },
  {
    text: "Transports",
    items: [
      { text: "WebSocket", link: "/transports/websocket" },
      { text: "NATS", link: "/transports/nats" },
      { text: "Writing a transport", link: "/transports/writing-a-transport" },
    ],
  },
  {
    text: "Project",
    items: [{ text: "Benchmarks", link: "/benchmarks" }],
  },
];
