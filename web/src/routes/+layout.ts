// Rendered in the browser only: the API serves the shell for every client-side route.
export const ssr = false;
export const prerender = false;
